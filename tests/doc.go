// Package tests holds minisentry's integration tests: real programs, compiled
// at test time, run natively and under `minisentry run`, with their output
// and exit status compared.
//
// The programs are the C files in programs/, each built with gcc -static and
// musl-gcc -static (a few also as gcc -static-pie), plus Debian's
// busybox-static. Run them with the project's test command, tests/run, which
// installs the compilers and busybox when they are missing:
//
//	tests/run                     every test of the project
//	tests/run -run Hello ./tests  one test here
//
// A mismatch is reported with both outputs and the tail of a second run
// under `minisentry run --strace`.
//
// The package has no code outside its tests; the subdirectories bench and
// floor are the benchmark command and its C floor tracer.
package tests
