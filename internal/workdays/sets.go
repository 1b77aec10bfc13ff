package workdays

import (
	"slices"

	"github.com/rickar/cal/v2"
	"github.com/rickar/cal/v2/at"
	"github.com/rickar/cal/v2/be"
	"github.com/rickar/cal/v2/bg"
	"github.com/rickar/cal/v2/cz"
	"github.com/rickar/cal/v2/de"
	"github.com/rickar/cal/v2/dk"
	"github.com/rickar/cal/v2/es"
	"github.com/rickar/cal/v2/fr"
	"github.com/rickar/cal/v2/gr"
	"github.com/rickar/cal/v2/hr"
	"github.com/rickar/cal/v2/ie"
	"github.com/rickar/cal/v2/it"
	"github.com/rickar/cal/v2/lt"
	"github.com/rickar/cal/v2/lv"
	"github.com/rickar/cal/v2/nl"
	"github.com/rickar/cal/v2/pl"
	"github.com/rickar/cal/v2/ro"
	"github.com/rickar/cal/v2/se"
	"github.com/rickar/cal/v2/si"
	"github.com/rickar/cal/v2/sk"
	"github.com/rickar/cal/v2/us"
)

// Names of the holiday sets that are not a country code.
const (
	USFederal = "us-federal" // the eleven federal holidays of 5 U.S.C. 6103(a), as OPM observes them
	NoHoliday = "none"       // weekends and closures only
)

// holidaySets maps each supported Config.Holidays value to its rules.
// It is a function, not a package variable, so that nothing can change it.
//
// The EU sets are the member states that rickar/cal covers (it has no
// Cyprus, Estonia, Finland, Hungary, Luxembourg, Malta or Portugal).
func holidaySets() map[string][]*cal.Holiday {
	return map[string][]*cal.Holiday{
		NoHoliday: nil,
		// us.Holidays has exactly the 6103(a) holidays with the weekend
		// rule of 6103(b) (Saturday to Friday, Sunday to Monday). Inauguration
		// Day is left out: it is a holiday only for employees in the
		// Washington area, so an office there adds it as a closure.
		USFederal: us.Holidays,
		"at":      at.Holidays,
		"be":      be.Holidays,
		"bg":      bg.Holidays,
		"cz":      cz.Holidays,
		"de":      de.Holidays,
		"dk":      dk.Holidays,
		"es":      es.Holidays,
		"fr":      fr.Holidays,
		"gr":      gr.Holidays,
		"hr":      hr.Holidays,
		"ie":      ie.Holidays,
		"it":      it.Holidays,
		"lt":      lt.Holidays,
		"lv":      lv.Holidays,
		"nl":      nl.Holidays,
		"pl":      pl.Holidays,
		"ro":      ro.Holidays,
		"se":      se.Holidays,
		"si":      si.Holidays,
		"sk":      sk.Holidays,
	}
}

// HolidaySets returns the values that Config.Holidays accepts, sorted.
func HolidaySets() []string {
	sets := holidaySets()
	names := make([]string, 0, len(sets))
	for name := range sets {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// publicHolidays drops the rules that rickar/cal marks ObservanceOther: days
// customarily but not legally off, such as Sweden's Midsummer, Christmas and
// New Year's Eves. An office that closes on them adds them as closures.
func publicHolidays(rules []*cal.Holiday) []*cal.Holiday {
	var keep []*cal.Holiday
	for _, h := range rules {
		if h.Type != cal.ObservanceOther {
			keep = append(keep, h)
		}
	}
	return keep
}
