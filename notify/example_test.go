package notify_test

import (
	"fmt"
	"strings"

	"github.com/maildesk/maildesk/notify"
)

// An acknowledgement of a new ticket, rendered from the embedded templates:
// the subject carries the ticket tag once, and the mail is marked as an
// automatic answer so that auto-responders do not answer it.
func ExampleRender() {
	desk := notify.Desk{ID: "acme-it", Name: "Acme IT Servicedesk", Address: "servicedesk@desk.example", DefaultLanguage: "en"}
	ack := notify.Notification{
		ID: notify.AckID("SD-4"), Kind: notify.Ack, Ticket: "SD-4",
		To: "jan@acme.example", ToName: "Jan Jansen", Language: "en", Customer: "Acme",
		Subject: "Printer on floor 2 is broken", Priority: "P2",
	}
	mail, err := notify.Render(desk, ack)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("Subject:", mail.Subject)
	fmt.Println("Auto-Submitted:", mail.Headers["Auto-Submitted"])
	fmt.Println()
	for _, line := range strings.Split(mail.Text, "\n")[:6] {
		fmt.Println(line)
	}
	// Output:
	// Subject: [SD-4] Printer on floor 2 is broken
	// Auto-Submitted: auto-replied
	//
	// Dear Jan Jansen,
	//
	// Thank you for your message. We have received your request and registered it under ticket number SD-4 for Acme.
	//
	// Subject: Printer on floor 2 is broken
	// Priority: P2
}
