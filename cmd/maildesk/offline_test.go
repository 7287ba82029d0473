package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Commands read the secrets they use and no others: the examples' "Try:"
// lines work as written on a machine without their secrets
// (/run/secrets/...), and so does `sla due` everywhere.
func TestExamplesTryLines(t *testing.T) {
	unsetEnv(t, "MAILDESK_IMAP_PASSWORD")
	files, err := filepath.Glob(filepath.Join(examplesDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tried := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, cmd := range tryLines(string(data)) {
			args := strings.Fields(cmd)
			if len(args) == 0 || args[0] != "maildesk" {
				continue
			}
			args = args[1:]
			for i, a := range args {
				if i > 0 && args[i-1] == "--config" {
					args[i] = filepath.Join(examplesDir, a)
				}
			}
			var out, errOut bytes.Buffer
			if code := run(args, &out, &errOut); code != 0 {
				t.Errorf("%s: %s: exit %d: %s", filepath.Base(f), cmd, code, errOut.String())
			}
			tried++
		}
	}
	if tried == 0 {
		t.Fatal("no Try: lines found in the examples")
	}
}

// tryLines are the commands of "# Try:" comments, continuation lines
// (ending in \) joined.
func tryLines(yaml string) []string {
	var out []string
	var cur strings.Builder
	in := false
	for _, line := range strings.Split(yaml, "\n") {
		text, ok := strings.CutPrefix(strings.TrimSpace(line), "#")
		if !ok {
			in = false
			continue
		}
		text = strings.TrimSpace(text)
		if rest, ok := strings.CutPrefix(text, "Try:"); ok {
			in, text = true, strings.TrimSpace(rest)
			cur.Reset()
		} else if !in {
			continue
		}
		more := strings.HasSuffix(text, "\\")
		cur.WriteString(strings.TrimSuffix(text, "\\") + " ")
		if !more {
			out = append(out, cur.String())
			in = false
		}
	}
	return out
}
