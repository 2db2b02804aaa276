// signal: os/signal: Notify, Ignore, Stop and Reset, with signals the
// program sends itself, then a death by SIGTERM once nothing catches it
// (exit status 128+15).
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	pid := os.Getpid()

	c := make(chan os.Signal, 4)
	signal.Notify(c, syscall.SIGUSR1, syscall.SIGUSR2)
	syscall.Kill(pid, syscall.SIGUSR1)
	fmt.Println("received:", <-c)
	syscall.Kill(pid, syscall.SIGUSR2)
	fmt.Println("received:", <-c)

	// A signal sent to one thread (tgkill) reaches the channel too.
	syscall.Tgkill(pid, syscall.Gettid(), syscall.SIGUSR1)
	fmt.Println("received:", <-c)

	// Ignored: nothing arrives, nothing dies.
	signal.Ignore(syscall.SIGHUP)
	syscall.Kill(pid, syscall.SIGHUP)
	fmt.Println("SIGHUP ignored:", signal.Ignored(syscall.SIGHUP))

	// After Stop the channel gets nothing more; with SIGUSR2 still
	// notified on another channel, delivery goes there.
	c2 := make(chan os.Signal, 1)
	signal.Notify(c2, syscall.SIGUSR2)
	signal.Stop(c)
	syscall.Kill(pid, syscall.SIGUSR2)
	fmt.Println("received on the second channel:", <-c2)
	select {
	case s := <-c:
		fmt.Println("FAIL: the stopped channel received", s)
	case <-time.After(50 * time.Millisecond):
		fmt.Println("the stopped channel received nothing")
	}

	// SIGTERM caught, then reset to its default: death.
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	syscall.Kill(pid, syscall.SIGTERM)
	fmt.Println("received:", <-term)
	signal.Reset(syscall.SIGTERM)
	fmt.Println("sending SIGTERM with the default action")
	syscall.Kill(pid, syscall.SIGTERM)
	time.Sleep(5 * time.Second)
	fmt.Println("FAIL: still alive")
}
