package workflow

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/maildesk/maildesk/billing"
	"github.com/maildesk/maildesk/config"
)

// A statement of a customer the desk does not have is ErrNotFound (the API
// answers 404 by errors.Is), not ErrInvalid, and says which customer.
func TestStatementUnknownCustomer(t *testing.T) {
	m, err := billing.ParseMonth("2026-11")
	if err != nil {
		t.Fatal(err)
	}
	s := &Statements{Customer: func(string) *config.Customer { return nil }}
	_, _, err = s.Make(context.Background(), "nobody", m)
	if !errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `unknown customer "nobody"`) {
		t.Fatalf("Make(nobody) = %v, want ErrNotFound naming the customer", err)
	}
}
