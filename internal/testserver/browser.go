package testserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// ChromiumNames are the browser binaries FindChromium tries, in order.
var ChromiumNames = []string{"chromium", "chromium-browser", "google-chrome"}

// FindChromium returns a headless-capable browser. Without one the test is
// skipped, except in CI (CI=true) or with MAILDESK_REQUIRE_CHROMIUM=1, where
// a missing browser is a failure: scripts/test installs Debian's chromium.
func FindChromium(t testing.TB) string {
	t.Helper()
	for _, name := range ChromiumNames {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("no browser found (tried %s in PATH): run ./scripts/test, which installs it, or apt-get install chromium",
		strings.Join(ChromiumNames, ", "))
	if os.Getenv("CI") == "true" || os.Getenv("MAILDESK_REQUIRE_CHROMIUM") == "1" {
		t.Fatal(msg + " (required: CI=true or MAILDESK_REQUIRE_CHROMIUM=1)")
	}
	t.Skip(msg)
	return ""
}

// ScreenshotDir is where a test writes the screenshots a person looks at:
// $MAILDESK_SCREENSHOTS when set (created), else the test's artifact
// directory (kept with go test -artifacts). The test logs it.
func ScreenshotDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("MAILDESK_SCREENSHOTS")
	if dir == "" {
		dir = t.ArtifactDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// Browser is headless Chromium driven over the DevTools protocol on a
// pipe (--remote-debugging-pipe): one page, navigated, read, clicked and
// photographed as a person would use it. It records every JavaScript
// dialog a page opened (an alert() that ran).
type Browser struct {
	t       testing.TB
	cmd     *exec.Cmd
	w       *os.File
	mu      sync.Mutex
	next    int
	waiting map[int]chan cdpReply
	events  chan cdpEvent
	session string
	dialogs []string
}

type cdpReply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

type cdpEvent struct {
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
}

// StartBrowser starts bin headless with its own profile and opens a page;
// it is stopped when the test ends.
func StartBrowser(t testing.TB, bin string) *Browser {
	t.Helper()
	home := t.TempDir()
	toBrowser, ourEnd, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	fromBrowser, theirEnd, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--headless=new", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
		"--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
		"--disable-background-networking", "--hide-scrollbars", "--user-data-dir="+filepath.Join(home, "profile"), "about:blank")
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "XDG_CACHE_HOME="+filepath.Join(home, ".cache"))
	cmd.ExtraFiles = []*os.File{toBrowser, theirEnd} // fd 3: it reads; fd 4: it writes
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	toBrowser.Close()
	theirEnd.Close()
	b := &Browser{t: t, cmd: cmd, w: ourEnd, waiting: map[int]chan cdpReply{}, events: make(chan cdpEvent, 256)}
	t.Cleanup(func() {
		ourEnd.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("chromium stderr:\n%s", stderr.String())
		}
	})
	go b.read(fromBrowser)
	var target struct {
		TargetID string `json:"targetId"`
	}
	b.call("", "Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var att struct {
		SessionID string `json:"sessionId"`
	}
	b.call("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att)
	b.session = att.SessionID
	b.Call("Page.enable", nil, nil)
	b.Call("Runtime.enable", nil, nil)
	return b
}

func (b *Browser) read(r *os.File) {
	defer r.Close()
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		msg, err := br.ReadBytes(0)
		if err != nil {
			close(b.events)
			return
		}
		msg = msg[:len(msg)-1]
		var m struct {
			ID int `json:"id"`
			cdpReply
			cdpEvent
		}
		if json.Unmarshal(msg, &m) != nil {
			continue
		}
		if m.ID != 0 {
			b.mu.Lock()
			ch := b.waiting[m.ID]
			delete(b.waiting, m.ID)
			b.mu.Unlock()
			if ch != nil {
				ch <- m.cdpReply
			}
			continue
		}
		if m.Method == "Page.javascriptDialogOpening" {
			var d struct {
				Message string `json:"message"`
			}
			_ = json.Unmarshal(m.Params, &d)
			b.mu.Lock()
			b.dialogs = append(b.dialogs, d.Message)
			b.mu.Unlock()
			// Dismissed, or the page hangs.
			go b.Call("Page.handleJavaScriptDialog", map[string]any{"accept": false}, nil)
		}
		select {
		case b.events <- m.cdpEvent:
		default: // nobody waits for it
		}
	}
}

// Call sends a command to the page and decodes its result into out (nil:
// ignored); an error fails the test.
func (b *Browser) Call(method string, params any, out any) {
	b.t.Helper()
	b.call(b.session, method, params, out)
}

func (b *Browser) call(session, method string, params any, out any) {
	b.t.Helper()
	b.mu.Lock()
	b.next++
	id := b.next
	ch := make(chan cdpReply, 1)
	b.waiting[id] = ch
	b.mu.Unlock()
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if session != "" {
		msg["sessionId"] = session
	}
	data, _ := json.Marshal(msg)
	if _, err := b.w.Write(append(data, 0)); err != nil {
		b.t.Fatalf("%s: %v", method, err)
	}
	select {
	case r := <-ch:
		if r.Error != nil {
			b.t.Fatalf("%s: %s", method, r.Error.Message)
		}
		if out != nil {
			if err := json.Unmarshal(r.Result, out); err != nil {
				b.t.Fatalf("%s: %v in %s", method, err, r.Result)
			}
		}
	case <-time.After(60 * time.Second):
		b.t.Fatalf("%s: no answer from the browser within a minute", method)
	}
}

// drain forgets the events so far.
func (b *Browser) drain() {
	for {
		select {
		case <-b.events:
		default:
			return
		}
	}
}

// waitLoad waits for the page's load event.
func (b *Browser) waitLoad(what string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		select {
		case e, ok := <-b.events:
			if !ok {
				b.t.Fatalf("%s: the browser went away", what)
			}
			if e.Method == "Page.loadEventFired" {
				return
			}
		case <-ctx.Done():
			b.t.Fatalf("%s: the page did not load within a minute", what)
		}
	}
}

// Headers sends these with every request from now on (an agent's
// Authorization, an Accept-Language).
func (b *Browser) Headers(h map[string]string) {
	b.t.Helper()
	b.Call("Network.enable", nil, nil)
	b.Call("Network.setExtraHTTPHeaders", map[string]any{"headers": h}, nil)
}

// Open navigates to url and waits until it has loaded.
func (b *Browser) Open(url string) {
	b.t.Helper()
	b.drain()
	var r struct {
		ErrorText string `json:"errorText"`
	}
	b.Call("Page.navigate", map[string]any{"url": url}, &r)
	if r.ErrorText != "" {
		b.t.Fatalf("open %s: %s", url, r.ErrorText)
	}
	b.waitLoad("open " + url)
}

// Eval evaluates a JavaScript expression in the page as the test's own
// hand (DevTools is not bound by the page's Content-Security-Policy) and
// returns its value as JSON.
func (b *Browser) Eval(expr string) json.RawMessage {
	b.t.Helper()
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	b.Call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &r)
	if r.ExceptionDetails != nil {
		b.t.Fatalf("eval %s: %s", expr, r.ExceptionDetails.Text)
	}
	return r.Result.Value
}

// Fill types value into the form field selector names.
func (b *Browser) Fill(selector, value string) {
	b.t.Helper()
	s, _ := json.Marshal(selector)
	v, _ := json.Marshal(value)
	if string(b.Eval(fmt.Sprintf(`(() => { const e = document.querySelector(%s); if (!e) return false; e.value = %s; return true })()`, s, v))) != "true" {
		b.t.Fatalf("no field %s on the page", selector)
	}
}

// Click presses the button selector names and waits for the page it
// leads to.
func (b *Browser) Click(selector string) {
	b.t.Helper()
	b.drain()
	s, _ := json.Marshal(selector)
	if string(b.Eval(fmt.Sprintf(`(() => { const e = document.querySelector(%s); if (!e) return false; e.click(); return true })()`, s))) != "true" {
		b.t.Fatalf("no button %s on the page", selector)
	}
	b.waitLoad("click " + selector)
}

// URL is the page's address now.
func (b *Browser) URL() string {
	b.t.Helper()
	var s string
	_ = json.Unmarshal(b.Eval("location.href"), &s)
	return s
}

// DOM is the page's document as the browser built it.
func (b *Browser) DOM() string {
	b.t.Helper()
	var s string
	_ = json.Unmarshal(b.Eval("document.documentElement.outerHTML"), &s)
	return s
}

// Text is the page's text as a person reads it.
func (b *Browser) Text() string {
	b.t.Helper()
	var s string
	_ = json.Unmarshal(b.Eval("document.body.innerText"), &s)
	return s
}

// Dialogs are the messages of the JavaScript dialogs pages opened: none,
// unless a page ran script.
func (b *Browser) Dialogs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.dialogs...)
}

// Screenshot saves the whole page at width CSS pixels (mobile: as a
// phone shows it) as a PNG at path.
func (b *Browser) Screenshot(path string, width int, mobile bool) {
	b.t.Helper()
	height := 900
	if mobile {
		height = 844
	}
	b.Call("Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}, nil)
	defer b.Call("Emulation.clearDeviceMetricsOverride", nil, nil)
	var shot struct {
		Data string `json:"data"`
	}
	b.Call("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &shot)
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// FitsWidth reports whether the page fits width CSS pixels without scrolling
// sideways (a phone's width).
func (b *Browser) FitsWidth(width int) bool {
	b.t.Helper()
	b.Call("Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": 844, "deviceScaleFactor": 1, "mobile": true}, nil)
	defer b.Call("Emulation.clearDeviceMetricsOverride", nil, nil)
	var w int
	_ = json.Unmarshal(b.Eval("document.documentElement.scrollWidth"), &w)
	return w <= width
}
