package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/minisentry/minisentry/syscalls/linux"
)

// listSyscalls prints the system call table: number, name, support, note.
func listSyscalls(w io.Writer) int {
	table := linux.Table()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NUMBER\tNAME\tSUPPORT\tNOTE")
	for _, n := range table.Numbers() {
		sc := table.Lookup(n)
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", n, sc.Name, sc.Support, sc.Note)
	}
	tw.Flush()
	return 0
}
