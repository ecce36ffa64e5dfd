package benchtool

// ClientsOf makes Clients whose Doers come from newDoer: for a target that
// is not a credential endpoint over plain HTTP (the team broker's HTTPS API),
// driven by the same closed and open loops.
func ClientsOf(newDoer func() Doer) *Clients {
	return &Clients{newDoer: newDoer}
}
