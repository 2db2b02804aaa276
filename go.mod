module github.com/minisentry/minisentry

go 1.26.0

require (
	github.com/google/go-cmp v0.7.0
	github.com/sirupsen/logrus v1.10.2
	golang.org/x/sys v0.50.0
)
