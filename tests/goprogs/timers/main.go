// timers: time.Sleep, timers, tickers, AfterFunc and a context deadline.
// Durations are checked against lower bounds only, and only booleans are
// printed.
package main

import (
	"context"
	"fmt"
	"sync"
	"time"
)

func main() {
	start := time.Now()
	time.Sleep(20 * time.Millisecond)
	fmt.Println("slept at least 20ms:", time.Since(start) >= 20*time.Millisecond)

	t := time.NewTimer(10 * time.Millisecond)
	<-t.C
	fmt.Println("timer fired")

	// A stopped timer never fires.
	t = time.NewTimer(time.Hour)
	fmt.Println("stopped before firing:", t.Stop())

	// A reset timer fires at its new time.
	t = time.NewTimer(time.Hour)
	t.Reset(5 * time.Millisecond)
	<-t.C
	fmt.Println("reset timer fired")

	// A ticker ticks, and time goes forward between ticks.
	tk := time.NewTicker(5 * time.Millisecond)
	var last time.Time
	forward := true
	for range 5 {
		now := <-tk.C
		if !last.IsZero() && !now.After(last) {
			forward = false
		}
		last = now
	}
	tk.Stop()
	fmt.Println("five ticks, each later than the last:", forward)

	// AfterFunc runs on its own goroutine.
	var wg sync.WaitGroup
	wg.Add(1)
	time.AfterFunc(5*time.Millisecond, wg.Done)
	wg.Wait()
	fmt.Println("AfterFunc ran")

	// A select between timers picks the earlier one.
	select {
	case <-time.After(5 * time.Millisecond):
		fmt.Println("the 5ms timer won")
	case <-time.After(2 * time.Second):
		fmt.Println("the 2s timer won")
	}

	// Many goroutines sleeping at once all wake.
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i%5) * time.Millisecond)
		}()
	}
	wg.Wait()
	fmt.Println("50 sleepers woke")

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Millisecond)
	defer cancel()
	<-ctx.Done()
	fmt.Println("context:", ctx.Err())

	// Monotonic and wall clocks agree on roughly how long all that took.
	elapsed := time.Since(start)
	fmt.Println("elapsed is positive and under a minute:", elapsed > 0 && elapsed < time.Minute)
}
