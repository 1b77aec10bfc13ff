package workdays_test

import (
	"fmt"
	"time"

	"github.com/dissent-channel/dissent/internal/workdays"
)

// The State Department profile: acknowledge within 2 working days, reply
// within 30, counted on the federal calendar in Washington.
func ExampleCalendar_AddWorkdays() {
	washington, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic(err)
	}
	c, err := workdays.New(workdays.Config{Location: washington, Holidays: workdays.USFederal})
	if err != nil {
		panic(err)
	}
	submitted := time.Date(2026, time.November, 23, 18, 30, 0, 0, washington) // Monday, after hours
	fmt.Println("received:   ", c.Received(submitted).Format(time.DateTime))
	fmt.Println("acknowledge:", c.AddWorkdays(submitted, 2).Format(time.DateTime))
	fmt.Println("reply:      ", c.AddWorkdays(submitted, 30).Format(time.DateTime))
	// Output:
	// received:    2026-11-24 09:00:00
	// acknowledge: 2026-11-27 17:00:00
	// reply:       2027-01-08 17:00:00
}

// The EU Whistleblower Directive profile counts calendar days and months.
func ExampleCalendar_AddMonths() {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err)
	}
	c, err := workdays.New(workdays.Config{Location: berlin, Holidays: "de"})
	if err != nil {
		panic(err)
	}
	received := time.Date(2026, time.November, 30, 10, 0, 0, 0, berlin)
	fmt.Println("acknowledge:", c.AddDays(received, 7).Format(time.DateTime))
	fmt.Println("feedback:   ", c.AddMonths(received, 3).Format(time.DateTime))
	// Output:
	// acknowledge: 2026-12-07 10:00:00
	// feedback:    2027-02-28 10:00:00
}

func ExampleCalendar_Holidays() {
	c, err := workdays.New(workdays.Config{Holidays: workdays.USFederal})
	if err != nil {
		panic(err)
	}
	for _, h := range c.Holidays(2021)[9:] {
		fmt.Println(h.Date, h.Name, h.Observed)
	}
	// Output:
	// 2021-11-25 Thanksgiving Day false
	// 2021-12-24 Christmas Day true
	// 2021-12-31 New Year's Day true
}
