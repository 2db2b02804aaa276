// goroutines: channels, a WaitGroup fan-out, mutexes and atomics on two
// Ps, so that the Go runtime's threads, futexes and wakeups all work.
// It prints only results that do not depend on scheduling.
package main

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

func main() {
	runtime.GOMAXPROCS(2)
	fmt.Println("GOMAXPROCS:", runtime.GOMAXPROCS(0))

	// Ping-pong: every send waits for the other goroutine.
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v + 1
		}
		close(pong)
	}()
	n := 0
	for range 20000 {
		ping <- n
		n = <-pong
	}
	close(ping)
	_, open := <-pong
	fmt.Println("ping-pong:", n, "pong closed:", !open)

	// Fan-out: 100 goroutines, each with its own slot.
	var wg sync.WaitGroup
	results := make([]int, 100)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := 0
			for j := range 20000 {
				s += j % (i + 1)
			}
			results[i] = s
		}()
	}
	wg.Wait()
	sum := 0
	for _, r := range results {
		sum += r
	}
	fmt.Println("fan-out sum:", sum)

	// Contention: a mutex and an atomic, eight goroutines.
	var mu sync.Mutex
	var atom atomic.Int64
	locked := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20000 {
				mu.Lock()
				locked++
				mu.Unlock()
				atom.Add(1)
			}
		}()
	}
	wg.Wait()
	fmt.Println("mutex counter:", locked, "atomic counter:", atom.Load())

	// A buffered pipeline of three stages.
	src := make(chan int, 16)
	sq := make(chan int, 16)
	go func() {
		for i := 1; i <= 1000; i++ {
			src <- i
		}
		close(src)
	}()
	var stage sync.WaitGroup
	for range 4 {
		stage.Add(1)
		go func() {
			defer stage.Done()
			for v := range src {
				sq <- v * v
			}
		}()
	}
	go func() {
		stage.Wait()
		close(sq)
	}()
	total := 0
	for v := range sq {
		total += v
	}
	fmt.Println("sum of squares 1..1000:", total)

	// A sync.Cond broadcast wakes every waiter.
	var cmu sync.Mutex
	cond := sync.NewCond(&cmu)
	ready := false
	var woke atomic.Int32
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmu.Lock()
			for !ready {
				cond.Wait()
			}
			cmu.Unlock()
			woke.Add(1)
		}()
	}
	cmu.Lock()
	ready = true
	cond.Broadcast()
	cmu.Unlock()
	wg.Wait()
	fmt.Println("woken by Broadcast:", woke.Load())
}
