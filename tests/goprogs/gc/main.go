// gc: allocation, garbage collection (which stops the world and so needs
// every thread to be preemptible), finalizers, and returning memory to
// the OS.
package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
)

type node struct {
	next *node
	data [64]byte
}

func main() {
	runtime.GOMAXPROCS(2)

	// Garbage, from several goroutines at once.
	var wg sync.WaitGroup
	sums := make([]int, 4)
	for g := range sums {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				var head *node
				for i := range 1000 {
					head = &node{next: head}
					head.data[0] = byte(i)
				}
				n := 0
				for p := head; p != nil; p = p.next {
					n++
				}
				sums[g] += n
			}
		}()
	}
	wg.Wait()
	fmt.Println("nodes walked:", sums)

	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	runtime.GC()
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	fmt.Println("runtime.GC ran:", after.NumGC >= before.NumGC+2)

	// A finalizer runs once its object is unreachable.
	done := make(chan bool, 1)
	func() {
		obj := new(node)
		runtime.SetFinalizer(obj, func(*node) { done <- true })
	}()
	ran := false
	for range 100 {
		runtime.GC()
		select {
		case <-done:
			ran = true
		default:
		}
		if ran {
			break
		}
		runtime.Gosched()
	}
	fmt.Println("finalizer ran:", ran)

	// A big allocation, freed and given back (madvise).
	big := make([]byte, 64<<20)
	for i := 0; i < len(big); i += 4096 {
		big[i] = 1
	}
	fmt.Println("touched 64 MiB:", len(big)>>20)
	big = nil
	debug.FreeOSMemory()
	fmt.Println("FreeOSMemory returned")

	// Goroutine stacks that grow and move.
	var depth func(int) int
	depth = func(n int) int {
		var pad [256]byte
		if n == 0 {
			return int(pad[0])
		}
		return depth(n-1) + 1 + int(pad[n%256])
	}
	fmt.Println("deep recursion:", depth(100000))
}
