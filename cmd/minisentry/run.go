package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sirupsen/logrus"

	"github.com/minisentry/minisentry/kernel"
	"github.com/minisentry/minisentry/kernel/procfs"
	"github.com/minisentry/minisentry/loader"
	"github.com/minisentry/minisentry/platform/ptrace"
	"github.com/minisentry/minisentry/syscalls/linux"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// runFlags are the flags of `minisentry run`.
type runFlags struct {
	// observe are the flags of the observers that report at exit.
	observe observeFlags

	strace         bool
	straceSyscalls string
	straceLogSize  int
	debug          bool
	logFormat      string
	logFile        string
	env            stringList
	clearEnv       bool
	explainCrashes bool
	cpuProfile     string
	root           string
	readOnly       bool
	memoryLimit    byteSize
	maxTasks       int
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func parseRunFlags(args []string) (*runFlags, []string, error) {
	var f runFlags
	fs := flag.NewFlagSet("minisentry run", flag.ContinueOnError)
	fs.BoolVar(&f.strace, "strace", false, "log every system call: arguments, result, duration")
	fs.StringVar(&f.straceSyscalls, "strace-syscalls", "", "with --strace, trace only these comma-separated system calls")
	fs.IntVar(&f.straceLogSize, "strace-log-size", 1024, "with --strace, the most bytes of a buffer shown")
	f.observe.register(fs)
	fs.BoolVar(&f.debug, "debug", false, "log the sentry's own work: faults, switches, decisions")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&f.logFile, "log-file", "", "write logs to this file instead of standard error")
	fs.Var(&f.env, "env", "set an environment variable K=V for the program (repeatable)")
	fs.BoolVar(&f.clearEnv, "clear-env", false, "start the program with an empty environment (then add --env)")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a pprof CPU profile of the sentry to this file")
	fs.BoolVar(&f.explainCrashes, "explain-crashes", false, "say why a program died of SIGSEGV or SIGBUS (the default when standard error is a terminal)")
	fs.StringVar(&f.root, "root", "", "show the program this host directory as / (it starts in it), and nothing outside it")
	fs.BoolVar(&f.readOnly, "read-only", false, "refuse every change to the file system with EROFS")
	fs.Var(&f.memoryLimit, "memory-limit", "bound the application's memory to this many bytes (suffixes K, M, G): mmap and brk past it fail with ENOMEM, a page fault past it is SIGBUS; 0 for none")
	fs.IntVar(&f.maxTasks, "max-tasks", 0, "bound the application's threads and unreaped processes: clone and fork past it fail with EAGAIN; 0 for none")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: minisentry run [flags] -- PROGRAM [ARGS...]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return nil, nil, errors.New("no program given")
	}
	if f.maxTasks < 0 {
		return nil, nil, errors.New("--max-tasks: want 0 or more")
	}
	return &f, fs.Args(), nil
}

// run implements `minisentry run` and returns the exit status.
func run(args []string) int {
	f, argv, err := parseRunFlags(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(os.Stderr, "minisentry: %v\n", err)
		return 2
	}
	log, closeLog, err := newLogger(f)
	if err != nil {
		fmt.Fprintf(os.Stderr, "minisentry: %v\n", err)
		return 2
	}
	defer closeLog()

	if f.cpuProfile != "" {
		out, err := os.Create(f.cpuProfile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "minisentry: --cpuprofile: %v\n", err)
			return 2
		}
		pprof.StartCPUProfile(out)
		defer func() {
			pprof.StopCPUProfile()
			out.Close()
		}()
	}
	status, err := runProgram(f, argv, log)
	if err != nil {
		fmt.Fprintf(os.Stderr, "minisentry: %v\n", err)
		return sentryFailure
	}
	return status
}

// runProgram runs argv in a new sandbox and returns its exit status.
func runProgram(f *runFlags, argv []string, log *logrus.Logger) (int, error) {
	env := environment(f)
	root, cwd, path, err := sandboxFS(f, argv[0], env)
	if err != nil {
		return 0, err
	}
	defer root.Close()
	table := linux.Table()
	obs, err := newObservers(&f.observe)
	if err != nil {
		return 0, err
	}
	defer obs.close()
	var strace *kernel.StraceConfig
	if f.strace {
		strace = &kernel.StraceConfig{LogSize: f.straceLogSize}
		if f.straceSyscalls != "" {
			strace.Only = make(map[uintptr]bool)
			for _, name := range strings.Split(f.straceSyscalls, ",") {
				n, ok := table.NumberOf(strings.TrimSpace(name))
				if !ok {
					return 0, fmt.Errorf("--strace-syscalls: unknown system call %q", name)
				}
				strace.Only[n] = true
			}
		}
	}

	// The application starts with minisentry's umask, which the kernel
	// applies to the files it creates; the host must not apply it a
	// second time, so minisentry's own becomes 0.
	umask := unix.Umask(0)

	p, err := ptrace.New()
	if err != nil {
		return 0, fmt.Errorf("starting the ptrace platform: %w", err)
	}
	defer p.Close()
	p.MemoryFile().SetLimit(uint64(f.memoryLimit))
	k := kernel.NewKernel(kernel.Config{
		Platform: p, Syscalls: table, Log: log, Strace: strace, Root: root,
		Synthetic: procfs.New(),
		Stats:     obs.stats, Report: obs.report, Trace: obs.trace,
		// A person at a terminal is told why a program crashed; a script
		// reading the program's standard error is not disturbed.
		ExplainCrashes: f.explainCrashes || isTerminal(os.Stderr),
		MaxTasks:       f.maxTasks,
	})
	err = k.StartProcess(kernel.ProcessArgs{
		Filename: path,
		Argv:     argv,
		Envv:     env,
		Stdio:    [3]int{0, 1, 2},
		Cwd:      cwd,
		Umask:    uint32(umask),
		Creds: loader.Credentials{
			UID: uint32(os.Getuid()), EUID: uint32(os.Geteuid()),
			GID: uint32(os.Getgid()), EGID: uint32(os.Getegid()),
		},
	})
	if err != nil {
		return 0, err
	}
	stop := forwardHostSignals(k, log)
	defer stop()
	status, err := k.Wait()
	c := ptrace.ReadCounters()
	log.WithFields(logrus.Fields{"switches": c.Switches, "injections": c.Injections, "address_spaces": c.AddressSpaces, "stub_threads": c.Threads}).
		Debug("platform work")
	obs.finish(log, table, argv, status, err)
	if err != nil {
		return 0, err
	}
	return status.ShellStatus(), nil
}

// forwardHostSignals passes SIGINT, SIGTERM, SIGHUP and SIGQUIT that reach
// minisentry on to the application, as runsc does. The stubs live in a
// session of their own, so a Ctrl-C at the terminal reaches only the
// sentry, which decides. A second SIGINT ends the sandbox, for a program
// that ignores the first.
func forwardHostSignals(k *kernel.Kernel, log *logrus.Logger) (stop func()) {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT)
	done := make(chan struct{})
	go func() {
		interrupts := 0
		for {
			select {
			case <-done:
				return
			case s := <-ch:
				sig := s.(unix.Signal)
				if sig == unix.SIGINT {
					interrupts++
					if interrupts > 1 {
						log.Warn("second SIGINT: ending the sandbox")
						k.Kill(nil)
						continue
					}
				}
				log.WithField("signal", unix.SignalName(sig)).Debug("forwarding a host signal to the application")
				k.ForwardHostSignal(sig)
			}
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
}

// environment returns the program's environment: the sentry's own unless
// --clear-env, with --env settings on top.
func environment(f *runFlags) []string {
	var env []string
	if !f.clearEnv {
		env = os.Environ()
	}
	for _, kv := range f.env {
		key, _, _ := strings.Cut(kv, "=")
		env = append(removeVar(env, key), kv)
	}
	return env
}

// removeVar drops every setting of key from env.
func removeVar(env []string, key string) []string {
	out := env[:0]
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k != key {
			out = append(out, kv)
		}
	}
	return out
}

// newLogger builds the sentry's logger from the flags.
func newLogger(f *runFlags) (*logrus.Logger, func(), error) {
	log := logrus.New()
	closeLog := func() {}
	var out io.Writer = os.Stderr
	if f.logFile != "" {
		file, err := os.OpenFile(f.logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("--log-file: %w", err)
		}
		out = file
		closeLog = func() { file.Close() }
	}
	log.SetOutput(out)
	switch f.logFormat {
	case "text":
		log.SetFormatter(&lineFormatter{})
	case "json":
		log.SetFormatter(&logrus.JSONFormatter{})
	default:
		return nil, nil, fmt.Errorf("--log-format: want text or json, not %q", f.logFormat)
	}
	switch {
	case f.debug:
		log.SetLevel(logrus.DebugLevel)
	case f.strace:
		log.SetLevel(logrus.InfoLevel)
	default:
		log.SetLevel(logrus.WarnLevel)
	}
	return log, closeLog, nil
}
