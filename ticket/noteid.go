package ticket

// The ids of the notifications the commit script queues with a mail's
// outcome: the acknowledgement of a new ticket and the notice to a refused
// sender. They are made here, not in notify, because commit.lua makes them
// and ticket cannot import notify; notify.AckID and notify.RejectionID
// are these. The script learns a new ticket's number only as it creates
// it, so it is given what follows the number (ackIDSuffix).

// ackIDSuffix follows the ticket's number in the id of its acknowledgement.
const ackIDSuffix = "/ack"

// AckID is the id of the acknowledgement of ticket number: "SD-4/ack".
func AckID(number string) string { return number + ackIDSuffix }

// RejectionID is the id of the notice to the sender of a mail refused
// under dedupe key dedupe: "rejection/<key>".
func RejectionID(dedupe string) string { return "rejection/" + dedupe }
