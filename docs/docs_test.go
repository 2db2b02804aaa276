package docs

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// reference matches "`path/file.go` `Type.Method`" or "`path/file.go`
// `Function`" in a document.
var reference = regexp.MustCompile("`([a-z0-9_/]+\\.go)` `(?:([A-Za-z0-9_]+)\\.)?([A-Za-z0-9_]+)`")

// TestCodeReferences checks that every function a document names still
// exists in the file it names.
func TestCodeReferences(t *testing.T) {
	docs, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, doc := range docs {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range reference.FindAllStringSubmatch(string(text), -1) {
			file, recv, name := m[1], m[2], m[3]
			src, err := os.ReadFile(filepath.Join("..", file))
			if err != nil {
				t.Errorf("%s: %s: %v", doc, file, err)
				continue
			}
			if !defines(string(src), recv, name) {
				t.Errorf("%s: %s does not define %s", doc, file, strings.TrimPrefix(recv+"."+name, "."))
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no code reference found: the pattern or the documents changed")
	}
}

// defines reports whether src declares function name, as a method of recv
// if recv is not empty.
func defines(src, recv, name string) bool {
	pattern := fmt.Sprintf(`(?m)^func %s\(`, regexp.QuoteMeta(name))
	if recv != "" {
		pattern = fmt.Sprintf(`(?m)^func \([a-z]+ \*?%s\) %s\(`, regexp.QuoteMeta(recv), regexp.QuoteMeta(name))
	}
	return regexp.MustCompile(pattern).MatchString(src)
}
