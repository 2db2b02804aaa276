// preempt: goroutines spinning in loops without calls hold both Ps;
// only asynchronous preemption (SIGURG sent to a thread with tgkill) lets
// the main goroutine, the timers and the garbage collector run.
package main

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

var stop atomic.Bool

//go:noinline
func spin(counter *uint64) {
	for !stop.Load() {
		*counter++
	}
}

func main() {
	runtime.GOMAXPROCS(2)
	var wg sync.WaitGroup
	counters := make([]uint64, 4)
	for i := range counters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			spin(&counters[i])
		}()
	}
	// Sleep while the spinners run: waking needs a P.
	time.Sleep(50 * time.Millisecond)
	// A GC stops the world: every spinner must be preempted.
	runtime.GC()
	fmt.Println("GC done while goroutines spin")
	time.Sleep(20 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	ran := 0
	for _, c := range counters {
		if c > 0 {
			ran++
		}
	}
	fmt.Println("spinners that ran:", ran)
}
