// Command minisentry runs a static Linux x86-64 program in a sandbox: every
// system call the program makes stops in the sentry, which implements it in
// Go; the host kernel never runs one on the program's behalf.
//
//	minisentry run [flags] -- PROGRAM [ARGS...]
//	minisentry syscalls
//	minisentry trace-html TRACE.json > trace.html
//
// The exit status of `run` is the program's, or 128+N if signal N killed
// it; 125 means minisentry itself failed.
package main

import (
	"fmt"
	"os"
)

// sentryFailure is the exit status when minisentry itself fails, as docker
// and runsc use it.
const sentryFailure = 125

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  minisentry run [flags] -- PROGRAM [ARGS...]   run a static program in the sandbox
  minisentry syscalls                          list the system calls and their support
  minisentry trace-html TRACE.json > t.html    render a --trace file as a static HTML timeline

Run "minisentry run -h" for the flags.
`)
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	switch os.Args[1] {
	case "run":
		os.Exit(run(os.Args[2:]))
	case "syscalls":
		os.Exit(listSyscalls(os.Stdout, os.Args[2:]))
	case "trace-html":
		os.Exit(traceHTMLCommand(os.Args[2:], os.Stdout, os.Stderr))
	case "-h", "--help", "help":
		usage()
	default:
		fmt.Fprintf(os.Stderr, "minisentry: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
}
