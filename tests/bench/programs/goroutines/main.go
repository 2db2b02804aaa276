// Command goroutines is the bench's Go program: a fixed amount of work
// handed out through channels to goroutines on two Ps, and the results
// gathered through another channel. Built with CGO_ENABLED=0 it is a static
// program whose runtime starts threads, parks and wakes them through
// futexes, reads the clock often and preempts with signals: the load a Go
// application puts on a sentry, which tests/bench times as a whole command.
//
// Usage: goroutines ITEMS. It prints "sum N", which depends only on ITEMS,
// so that tests/bench can check the run under the sentry computed what the
// native run did.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
)

// workers is more than GOMAXPROCS, so that goroutines queue for the two Ps
// and the scheduler, not just the channels, has work to do.
const workers = 8

// rounds is the compute per item: a few microseconds, so that the channel
// traffic is frequent but does not outweigh the work.
const rounds = 2000

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: goroutines ITEMS")
		os.Exit(2)
	}
	items, err := strconv.Atoi(os.Args[1])
	if err != nil || items <= 0 {
		fmt.Fprintln(os.Stderr, "goroutines: ITEMS must be a positive integer")
		os.Exit(2)
	}
	// Fixed here rather than by the environment, so that the case is the
	// same whatever the host's CPU count or GOMAXPROCS variable.
	runtime.GOMAXPROCS(2)

	// Unbuffered, so that nearly every hand-off parks one goroutine and
	// wakes another.
	jobs := make(chan int)
	results := make(chan uint64)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				results <- work(uint64(i))
			}
		}()
	}
	go func() {
		for i := range items {
			jobs <- i
		}
		close(jobs)
	}()
	go func() {
		wg.Wait()
		close(results)
	}()
	var sum uint64
	for r := range results {
		sum += r
	}
	fmt.Println("sum", sum)
}

// work is a dependent chain of integer operations seeded by i: compute the
// compiler cannot fold away, whose result does not depend on which
// goroutine ran it.
func work(i uint64) uint64 {
	x := i*0x9e3779b97f4a7c15 + 1
	for range rounds {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}
