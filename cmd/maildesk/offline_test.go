package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maildesk/maildesk/internal/testserver"
)

// Commands read the secrets they use and no others: the examples' "Try:"
// lines work as written on a machine without their secrets
// (/run/secrets/...), and so does `sla due` everywhere.
//
// Some lines work on the desk's tickets (tickets open): they get a Redis
// of their own, as an operator's desk has one, and nothing else.
func TestExamplesTryLines(t *testing.T) {
	unsetEnv(t, "MAILDESK_IMAP_PASSWORD")
	t.Setenv("MAILDESK_REDIS_URL", "redis://"+testserver.Redis(t).Addr+"/0")
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
			args := shellWords(cmd)
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
