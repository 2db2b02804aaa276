// Package docs holds minisentry's documentation, in Markdown: the
// architecture, one write(2) followed end to end, the system call table,
// observability, performance and the coursework. Its test keeps the code
// references in the documents valid.
package docs
