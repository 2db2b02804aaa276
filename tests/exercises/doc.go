// Package exercises holds the tests of the coursework in
// docs/coursework.md. Each exercise has one test file, built only under its
// own tag, that runs a C program from programs/ natively and under
// minisentry and fails until the exercise is done:
//
//	go test -tags exercise_getcpu ./tests/exercises/
//	go test -tags exercise_proclimits ./tests/exercises/
//	go test -tags exercise_strace_itimerval ./tests/exercises/
//	go test -tags exercise_stack ./tests/exercises/
//	go test -tags exercise_dontunmap ./tests/exercises/
//
// A plain `go test ./...` builds none of them: the exercises fail on
// purpose, and the project's own tests must pass. The package has no code
// outside its tests.
package exercises
