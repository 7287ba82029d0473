// Package scripttest runs the table tests of the Lua scripts (ticket's and
// notify's): each step calls a script on a real redis-server, on the state
// the steps before it left, and checks its reply.
package scripttest

import (
	"errors"
	"reflect"
	"testing"
)

// Step is one call of a script and what it must answer: got is compared
// with Want (reflect.DeepEqual), the error with Err, the error's whole
// text ("" for none), and with Is (when set) by errors.Is.
type Step struct {
	Name string
	Run  func() (any, error)
	Want any
	Err  string
	Is   error
}

// Run runs steps in order and stops the test at the first that answers
// otherwise.
func Run(t *testing.T, steps []Step) {
	t.Helper()
	for i, st := range steps {
		got, err := st.Run()
		switch {
		case st.Err == "" && err != nil:
			t.Fatalf("step %d (%s): %v", i, st.Name, err)
		case st.Err != "" && (err == nil || err.Error() != st.Err):
			t.Fatalf("step %d (%s): error %v, want %q", i, st.Name, err, st.Err)
		case st.Is != nil && !errors.Is(err, st.Is):
			t.Fatalf("step %d (%s): error %v is not %v", i, st.Name, err, st.Is)
		case st.Err == "" && !reflect.DeepEqual(got, st.Want):
			t.Fatalf("step %d (%s): got %#v, want %#v", i, st.Name, got, st.Want)
		}
	}
}
