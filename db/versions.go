package db

import (
	syncatomic "sync/atomic"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// rowVersions is what a server remembers of the hotel rows its swaps
// wrote (Strategy.RemembersRows): each row as its last swap left it, so
// that its next booking of the hotel swaps from that version without
// reading the row first. On one hot hotel the server whose swap just won
// books the next one in one round trip instead of two, while the loser
// backs off (docs/performance.md).
//
// A version is only a guess: the swap tests it as it tests a read, so a
// row anyone changed since loses the swap, and then the booking reads.
// Only committed versions are kept (Strategy.statements gives no
// transaction the table): a stamp is unique to one committed version of
// its row only.
// Nothing is ever refused from a remembered version: rooms may have come
// back since, so a version that says they do not fit is not used.
//
// The table has a fixed number of slots, one hotel each. A hotel that
// hashes to a taken slot takes it over; the one it displaced is read
// again next time, as a stale version would be. Versions are never
// changed in place: bookings share them through the slots' pointers.
type rowVersions struct {
	slots [rowVersionSlots]syncatomic.Pointer[rowVersion]
}

// rowVersionSlots bounds the table: a few kilobytes per server, and more
// hotels than are ever hot at once.
const rowVersionSlots = 256

// rowVersion is one hotel's row as a swap left it.
type rowVersion struct {
	event, hotel int64
	row          dbsqlc.GetHotelRoomsRow
}

// remembered is the version of req's hotel the server's last swap left,
// when req's rooms fit by it; nil otherwise, or on a nil table.
func (v *rowVersions) remembered(req evento.BookRequest) *rowVersion {
	if v == nil {
		return nil
	}
	seen := v.slot(req).Load()
	if seen == nil || seen.event != req.EventID || seen.hotel != req.HotelID ||
		seen.row.Assigned-seen.row.Reserved-seen.row.Locked < req.Rooms {
		return nil
	}
	return seen
}

// remember keeps the row as req's swap left it.
func (v *rowVersions) remember(req evento.BookRequest, swapped dbsqlc.OptimisticBookRow) {
	if v == nil {
		return
	}
	row := dbsqlc.GetHotelRoomsRow{ID: swapped.ID, Assigned: swapped.Assigned, Reserved: swapped.Reserved,
		Locked: swapped.Locked, UpdatedAt: swapped.UpdatedAt}
	v.slot(req).Store(&rowVersion{event: req.EventID, hotel: req.HotelID, row: row})
}

// forget drops seen, whose swap lost, unless its slot holds another
// version by now.
func (v *rowVersions) forget(req evento.BookRequest, seen *rowVersion) {
	if v != nil {
		v.slot(req).CompareAndSwap(seen, nil)
	}
}

func (v *rowVersions) slot(req evento.BookRequest) *syncatomic.Pointer[rowVersion] {
	// Fibonacci hashing of both ids: consecutive hotels of one event, and
	// the same hotel at consecutive events, land in different slots.
	h := uint64(req.EventID)*0x9e3779b97f4a7c15 ^ uint64(req.HotelID)*0xc2b2ae3d27d4eb4f
	return &v.slots[(h>>32)%rowVersionSlots]
}
