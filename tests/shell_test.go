package tests

import (
	"os"
	"testing"
)

// TestShell runs busybox sh scripts: pipelines, command substitution,
// loops, background jobs, signals and traps, here-documents. A shell is
// fork, exec, pipes, dup2, wait and signals all at once, on a program
// nobody wrote for minisentry. Every applet the scripts use is one of
// busybox's own (busybox sh runs them by re-executing itself), so no
// dynamically linked host program is involved.
func TestShell(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(busybox); err != nil {
		t.Fatalf("%v: the shell tests need Debian's busybox-static; %s", err, installHint)
	}
	cases := []struct {
		name   string
		script string
		stdin  string
		status int
	}{
		{name: "pipeline", script: "seq 100 | sort -rn | head -3"},
		{name: "pipe to wc", script: "echo a | wc -c"},
		{name: "long pipeline", script: "seq 2000 | grep 7 | sed s/7/seven/ | tr a-z A-Z | tail -2"},
		{name: "pipeline status", script: "false | true; echo $?; true | false; echo $?"},
		{name: "yes into head", script: "yes | head -3; echo status $?"},
		{name: "command substitution", script: `x=$(echo hello | tr a-z A-Z); echo "got $x"; echo "nested $(echo "$(echo in)ner")"; echo "backticks ` + "`echo old style`" + `"`},
		{name: "for loop", script: `for i in 1 2 3; do echo "item $i"; done; i=0; while [ $i -lt 50 ]; do i=$((i+1)); done; echo "counted to $i"`},
		{name: "loop with applets", script: `for w in one two three; do echo $w | wc -c; done`},
		{name: "exit 7", script: "echo before; exit 7; echo after", status: 7},
		{name: "set -e", script: "set -e; echo one; false; echo not reached", status: 1},
		{name: "nested shells", script: `sh -c 'exit 3'; echo "inner exited $?"; sh -c 'sh -c "echo deep"'`},
		{name: "exec builtin", script: "exec echo replaced by echo; echo not reached"},
		{name: "redirections", script: "(echo out; echo err >&2) 2>&1 | sort; echo to stderr >&2"},
		{name: "background and wait", script: "(sleep 0.1; echo background done) & echo foreground; wait; echo after wait"},
		{name: "wait for status", script: "(exit 5) & wait $!; echo \"job exited $?\"; false & wait $!; echo \"false exited $?\""},
		{name: "many jobs", script: "for i in 1 2 3 4 5; do (echo job $i | wc -c) & done; wait; echo all done"},
		{name: "kill a job", script: "sleep 5 & kill $!; wait $!; echo \"killed job: $?\""},
		{name: "stop and continue a job", script: "sleep 0.2 & p=$!; kill -STOP $p; kill -CONT $p; wait $p; echo \"resumed job: $?\""},
		{name: "kill self", script: "echo before; kill -TERM $$; echo after", status: 128 + 15},
		{name: "trap", script: `trap 'echo caught TERM' TERM; kill -TERM $$; echo after the trap; trap 'echo at exit' EXIT; echo last line`},
		{name: "trap reset", script: `trap 'echo caught' USR1; kill -USR1 $$; trap - USR1; kill -USR1 $$; echo not reached`, status: 128 + 10},
		{name: "ignored signal", script: `trap '' INT; kill -INT $$; echo survived SIGINT`},
		{name: "here-doc", script: "X=expanded\ncat <<EOF\nline one\n$X and ${Y:-default}\nEOF\ncat <<'EOF'\nnot $X\nEOF\nwc -l <<EOF\na\nb\nc\nEOF\n"},
		{name: "read loop", script: `n=0; while read line; do n=$((n+1)); echo "[$line]"; done; echo "$n lines"`, stdin: "first\nsecond line\nthird\n"},
		{name: "stdin to applet", script: "sort -r | head -2", stdin: "b\na\nd\nc\n"},
		{name: "xargs", script: "seq 5 | xargs /bin/busybox echo numbers:"},
		{name: "case and functions", script: `f() { case $1 in a*) echo "starts with a";; *) echo "other: $1";; esac; return 4; }; f apple; f pear; echo "returned $?"`},
		{name: "subshell variables", script: `x=outer; (x=inner; echo "in: $x"); echo "out: $x"; echo $(x=sub; echo $x) $x`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			compare(t, busybox, invocation{args: []string{"sh", "-c", c.script}, stdin: c.stdin}, c.status)
		})
	}
}
