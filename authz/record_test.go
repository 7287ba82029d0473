package authz

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/maildesk/maildesk/config"
)

// everyField is a directory with every field of the schema set, and one
// customer with none.
func everyField() []config.Customer {
	yes, no := true, false
	return []config.Customer{{
		ID: "acme", Name: "Acme B.V.", Plan: "premium", Domains: []string{"acme.example", "xn--bcher-kva.example"},
		AuthoriseDomains: true, RequireAuthentication: &no, Managers: []config.Person{{Email: "boss@acme.example", Name: "Bo Ss"}},
		ProgressToAll: true, ActiveFrom: "2027-01-01", ActiveUntil: "2027-12-31", Suspended: "unpaid invoice 42",
		Contacts: []config.Contact{
			{Email: "jan@acme.example", Name: "Jan", Main: true, Language: "nl", MaxPriority: "P2", ReceivesProgress: &yes},
			{Email: "piet@acme.example", ReceivesProgress: &no},
		},
	}, {ID: "bare"}}
}

// everyFieldJSON is everyField as the directory document and the API have
// always written it (json tags on config.Customer until issue 18): stored
// directories must still read, and API clients must see the same.
const everyFieldJSON = `[{"id":"acme","name":"Acme B.V.","plan":"premium","domains":["acme.example","xn--bcher-kva.example"],` +
	`"authorise_domains":true,"require_authentication":false,"managers":[{"email":"boss@acme.example","name":"Bo Ss"}],` +
	`"progress_to_all":true,"contacts":[{"email":"jan@acme.example","name":"Jan","main":true,"language":"nl","max_priority":"P2","receives_progress":true},` +
	`{"email":"piet@acme.example","receives_progress":false}],"active_from":"2027-01-01","active_until":"2027-12-31","suspended":"unpaid invoice 42"},{"id":"bare"}]`

func TestDocumentShape(t *testing.T) {
	doc, err := encode(everyField())
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"customers":` + everyFieldJSON + `}`; string(doc) != want {
		t.Errorf("stored document\n%s\nwant\n%s", doc, want)
	}
	cs, v, err := decode("k", []any{`{"customers":` + everyFieldJSON + `}`, "7"})
	if err != nil || v != 7 || !reflect.DeepEqual(cs, everyField()) {
		t.Errorf("decode = %+v, %d, %v; want everyField, 7", cs, v, err)
	}
	if doc, _ := encode(nil); string(doc) != `{"customers":[]}` {
		t.Errorf("empty directory stored as %s", doc)
	}
}

// The stored record and the API row carry every field of the schema: a
// field added to config.Customer or config.Contact must be added to both
// (and to docs/openapi.yaml), or be left out on purpose here.
func TestRecordsCoverSchema(t *testing.T) {
	for _, pair := range []struct{ schema, record, row any }{
		{config.Customer{}, customerRecord{}, CustomerRow{}},
		{config.Contact{}, contactRecord{}, ContactRow{}},
		{config.Person{}, personRecord{}, PersonRow{}},
	} {
		want := reflect.TypeOf(pair.schema).NumField()
		for _, v := range []any{pair.record, pair.row} {
			if n := reflect.TypeOf(v).NumField(); n != want {
				t.Errorf("%T has %d fields, %T has %d", v, n, pair.schema, want)
			}
		}
	}
}

func TestCustomerRowsShape(t *testing.T) {
	b, err := json.Marshal(CustomerRows(everyField()))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != everyFieldJSON {
		t.Errorf("rows\n%s\nwant\n%s", b, everyFieldJSON)
	}
	if b, _ := json.Marshal(CustomerRows(nil)); string(b) != "[]" {
		t.Errorf("no customers = %s, want []", b)
	}
	if b, _ := json.Marshal(NewContactRow(config.Contact{})); string(b) != "{}" {
		t.Errorf("empty contact = %s, want {}", b)
	}
}

// A directory stored before the record type existed loads unchanged.
func TestStoreReadsOldDocument(t *testing.T) {
	s, rdb := newTestStore(t)
	ctx := context.Background()
	if err := rdb.HSet(ctx, s.key, fieldDoc, `{"customers":`+everyFieldJSON+`}`, fieldVersion, "3").Err(); err != nil {
		t.Fatal(err)
	}
	cs, v, err := s.Load(ctx)
	if err != nil || v != 3 || !reflect.DeepEqual(cs, everyField()) {
		t.Errorf("Load = %+v, %d, %v", cs, v, err)
	}
}
