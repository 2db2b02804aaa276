package main

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/sirupsen/logrus"
)

// lineFormatter prints a log entry as one short line: time, level letter,
// message, then the fields. Strace lines, which carry no fields, read like
// strace's own output.
type lineFormatter struct{}

// Format implements logrus.Formatter.
func (lineFormatter) Format(e *logrus.Entry) ([]byte, error) {
	var b bytes.Buffer
	level := strings.ToUpper(e.Level.String()[:1])
	fmt.Fprintf(&b, "%s %s %s", e.Time.Format("15:04:05.000000"), level, e.Message)
	keys := make([]string, 0, len(e.Data))
	for k := range e.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%v", k, e.Data[k])
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}
