package deploy_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// maildesk is the binary built by TestMain: the deployment files run the
// command, so the tests do too.
var maildesk string

// bakedVersion is the version TestMain gives the binary, as the
// Dockerfile's -X main.version=${VERSION} does.
const bakedVersion = "v0.0.0-deploy-test"

// listenEnv overrides http.listen for the daemon and its health check
// (docs/configuration.md, environment variables).
const listenEnv = "MAILDESK_HTTP_LISTEN"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "maildesk-deploy-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "deploy:", err)
		os.Exit(1)
	}
	maildesk = filepath.Join(dir, "maildesk")
	// "go test" puts the go command that runs it first in PATH.
	// Built as the Dockerfile builds it: the version baked in.
	build := exec.Command("go", "build", "-ldflags", "-X main.version="+bakedVersion, "-o", maildesk, "github.com/maildesk/maildesk/cmd/maildesk")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "deploy: go build ./cmd/maildesk: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runMaildesk runs `maildesk args...` in the test's environment and
// returns its exit code and output.
func runMaildesk(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(maildesk, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("maildesk %q: %v", args, err)
	}
	return code, out.String(), errOut.String()
}

// unsetEnv unsets name for the test (restored after it).
func unsetEnv(t *testing.T, name string) {
	t.Helper()
	t.Setenv(name, "")
	os.Unsetenv(name)
}

// The Dockerfile's -X main.version=${VERSION} is what maildesk version
// prints.
func TestVersionBakedIn(t *testing.T) {
	if code, out, errOut := runMaildesk(t, "version"); code != 0 || out != "maildesk "+bakedVersion+"\n" {
		t.Errorf("maildesk version: exit %d, %q%s; want %q", code, out, errOut, "maildesk "+bakedVersion)
	}
}
