package tariff

import "errors"

// FieldError is a rejected input field. Object is what was being read
// ("tariff", "shorthand", "session", "cdr"); Field is the JSON path of the
// offending field, e.g. "elements[0].restrictions.start_time".
type FieldError struct {
	Object string
	Field  string
	Msg    string
}

func (e *FieldError) Error() string {
	return e.Object + ": " + e.Field + ": " + e.Msg
}

// problems collects field errors so a caller sees all of them at once.
type problems struct {
	object string
	errs   []error
}

func (p *problems) add(field, msg string) {
	p.errs = append(p.errs, &FieldError{Object: p.object, Field: field, Msg: msg})
}

// err returns the collected errors joined (errors.As finds the first
// *FieldError), or nil.
func (p *problems) err() error {
	return errors.Join(p.errs...)
}
