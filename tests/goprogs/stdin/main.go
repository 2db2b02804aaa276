// stdin: reads all of standard input, line by line, and reports on it.
package main

import (
	"bufio"
	"fmt"
	"hash/crc32"
	"os"
	"strings"
)

func main() {
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	lines, bytes := 0, 0
	crc := crc32.NewIEEE()
	var first, longest string
	for sc.Scan() {
		line := sc.Text()
		if lines == 0 {
			first = line
		}
		if len(line) > len(longest) {
			longest = line
		}
		lines++
		bytes += len(line) + 1
		crc.Write([]byte(line))
	}
	if err := sc.Err(); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Printf("lines %d, bytes %d, crc %08x\n", lines, bytes, crc.Sum32())
	fmt.Println("first line upper-cased:", strings.ToUpper(first))
	fmt.Println("longest line length:", len(longest))
	// Reading at EOF again gives EOF again.
	n, err := os.Stdin.Read(make([]byte, 10))
	fmt.Println("read after EOF:", n, err)
}
