// exec: os/exec from a static Go program, which forks (clone with
// CLONE_VFORK|CLONE_VM) and execs: output through the inherited stdout,
// output and input through pipes, exit statuses, a death by signal, a
// missing program. With the argument "devnull", a child whose standard
// input os/exec opens on /dev/null.
package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

const busybox = "/bin/busybox"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "devnull" {
		// Stdin left nil: os/exec opens /dev/null for it.
		out, err := exec.Command(busybox, "wc", "-c").Output()
		fmt.Printf("wc -c of /dev/null: %q %v\n", strings.TrimSpace(string(out)), err)
		return
	}

	// The child writes straight to our stdout.
	cmd := exec.Command(busybox, "echo", "hello from busybox")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	fmt.Println("run:", cmd.Run())

	// Output through a pipe, input through another.
	cmd = exec.Command(busybox, "tr", "a-z", "A-Z")
	cmd.Stdin = strings.NewReader("piped through tr\n")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	fmt.Printf("output: %q %v\n", out, err)

	// Combined output of a shell pipeline.
	cmd = exec.Command(busybox, "sh", "-c", "echo out; echo err >&2; seq 3 | wc -l")
	cmd.Stdin = os.Stdin
	out, err = cmd.CombinedOutput()
	fmt.Printf("combined: %q %v\n", out, err)

	// Exit statuses.
	for _, args := range [][]string{{"true"}, {"false"}, {"sh", "-c", "exit 7"}} {
		cmd = exec.Command(busybox, args...)
		cmd.Stdin = os.Stdin
		err := cmd.Run()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			fmt.Printf("%v: exit code %d\n", args, exit.ExitCode())
		} else {
			fmt.Printf("%v: %v\n", args, err)
		}
	}

	// A child killed by a signal.
	cmd = exec.Command(busybox, "sh", "-c", "kill -TERM $$; sleep 5")
	cmd.Stdin = os.Stdin
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		ws := exit.Sys().(syscall.WaitStatus)
		fmt.Printf("killed: signaled %v, signal %v, exit code %d\n", ws.Signaled(), ws.Signal(), exit.ExitCode())
	} else {
		fmt.Println("killed:", err)
	}

	// A program that is not there: the error comes back from the exec in
	// the child, through the CLOEXEC pipe os/exec uses.
	cmd = exec.Command("/nonexistent/program")
	cmd.Stdin = os.Stdin
	err = cmd.Run()
	fmt.Println("missing program: not exist:", errors.Is(err, fs.ErrNotExist))

	// Environment and working directory pass to the child.
	cmd = exec.Command(busybox, "sh", "-c", `echo "$GREETING"; pwd`)
	cmd.Stdin = os.Stdin
	cmd.Env = []string{"GREETING=hi there"}
	cmd.Dir = "/"
	out, err = cmd.Output()
	fmt.Printf("env and dir: %q %v\n", out, err)

	// Several children at once, waited for in reverse order.
	var cmds []*exec.Cmd
	var outs []*strings.Builder
	for i := range 5 {
		c := exec.Command(busybox, "sh", "-c", fmt.Sprintf("echo child %d", i))
		c.Stdin = os.Stdin
		b := new(strings.Builder)
		c.Stdout = b
		if err := c.Start(); err != nil {
			fmt.Println("start:", err)
			return
		}
		cmds, outs = append(cmds, c), append(outs, b)
	}
	for i := len(cmds) - 1; i >= 0; i-- {
		err := cmds[i].Wait()
		fmt.Printf("wait %d: %q %v\n", i, outs[i].String(), err)
	}
}
