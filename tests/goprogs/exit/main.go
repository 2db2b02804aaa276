// exit: os.Exit(3) ends the program at once: deferred functions do not
// run, and output written before it comes out.
package main

import (
	"fmt"
	"os"
	"time"
)

func main() {
	defer fmt.Println("deferred: must not print")
	go func() {
		// Another goroutine, busy, dies with the process.
		for {
			time.Sleep(time.Millisecond)
		}
	}()
	fmt.Println("exiting with 3")
	fmt.Fprintln(os.Stderr, "to stderr before exiting")
	os.Exit(3)
}
