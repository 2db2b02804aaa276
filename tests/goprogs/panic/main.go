// panic: panics recovered (an explicit one, and runtime errors that come
// from signals: a nil pointer dereference is a SIGSEGV the runtime turns
// into a panic), then, depending on the argument, an unrecovered panic
// (exit status 2) or a deadlock (exit status 2).
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
)

type point struct{ x, y int }

func try(name string, f func()) {
	defer func() {
		r := recover()
		var re runtime.Error
		if err, ok := r.(error); ok && errors.As(err, &re) {
			fmt.Printf("%s: recovered runtime error: %v\n", name, re)
		} else {
			fmt.Printf("%s: recovered: %v\n", name, r)
		}
	}()
	f()
}

var zero = 0

func main() {
	try("explicit", func() { panic("boom") })
	try("nil map", func() {
		var m map[string]int
		m["x"] = 1
	})
	try("nil pointer", func() {
		var p *point
		fmt.Println(p.y)
	})
	try("index", func() {
		s := []int{1, 2, 3}
		i := len(os.Args) + 5
		fmt.Println(s[i])
	})
	try("divide", func() { fmt.Println(10 / zero) })
	try("nested", func() {
		defer func() {
			panic(fmt.Sprint("again after ", recover()))
		}()
		panic("first")
	})
	try("closed channel", func() {
		c := make(chan int)
		close(c)
		close(c)
	})

	switch {
	case len(os.Args) > 1 && os.Args[1] == "unrecovered":
		// No goroutine traces: they hold addresses.
		debug.SetTraceback("none")
		panic("not recovered")
	case len(os.Args) > 1 && os.Args[1] == "deadlock":
		c := make(chan int)
		<-c
	}
	fmt.Println("done")
}
