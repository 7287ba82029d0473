package testmail

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// CorpusDir is the shared corpus of real-world mail: MAILDESK_CORPUS, else
// shared/corpus beside the checkout (seen from a package one level down).
func CorpusDir() string {
	if d := os.Getenv("MAILDESK_CORPUS"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "shared", "corpus")
}

// CorpusRecords are the lines of the corpus's expected.jsonl in dir, one
// JSON record each, for the caller to decode into what it checks. The test
// is skipped when there is no corpus.
func CorpusRecords(t testing.TB, dir string) [][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "expected.jsonl"))
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("no corpus at %s (set MAILDESK_CORPUS)", dir)
	}
	if err != nil {
		t.Fatalf("opening corpus: %v", err)
	}
	defer f.Close()
	var lines [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		lines = append(lines, bytes.Clone(sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading corpus: %v", err)
	}
	return lines
}
