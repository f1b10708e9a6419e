package ocpp16

import "time"

// ChargingSchedulePeriod is one step of a ChargingSchedule: from StartPeriod
// seconds after the schedule start, Limit (in the schedule's unit, a
// multiple of 0.1) applies.
type ChargingSchedulePeriod struct {
	StartPeriod  int     `json:"startPeriod"`
	Limit        float64 `json:"limit"`
	NumberPhases *int    `json:"numberPhases,omitempty"`
}

// ChargingSchedule is a sequence of limits.
type ChargingSchedule struct {
	Duration               *int                     `json:"duration,omitempty"`
	StartSchedule          *time.Time               `json:"startSchedule,omitempty"`
	ChargingRateUnit       ChargingRateUnit         `json:"chargingRateUnit"`
	ChargingSchedulePeriod []ChargingSchedulePeriod `json:"chargingSchedulePeriod"`
	MinChargingRate        *float64                 `json:"minChargingRate,omitempty"`
}

// ChargingProfile limits the power or current a charge point may draw.
type ChargingProfile struct {
	ChargingProfileId      int                    `json:"chargingProfileId"`
	TransactionId          *int                   `json:"transactionId,omitempty"`
	StackLevel             int                    `json:"stackLevel"`
	ChargingProfilePurpose ChargingProfilePurpose `json:"chargingProfilePurpose"`
	ChargingProfileKind    ChargingProfileKind    `json:"chargingProfileKind"`
	RecurrencyKind         RecurrencyKind         `json:"recurrencyKind,omitempty"`
	ValidFrom              *time.Time             `json:"validFrom,omitempty"`
	ValidTo                *time.Time             `json:"validTo,omitempty"`
	ChargingSchedule       ChargingSchedule       `json:"chargingSchedule"`
}

// SetChargingProfileRequest (central system -> charge point).
type SetChargingProfileRequest struct {
	ConnectorId        int             `json:"connectorId"`
	CsChargingProfiles ChargingProfile `json:"csChargingProfiles"`
}

// SetChargingProfileResponse answers SetChargingProfileRequest.
type SetChargingProfileResponse struct {
	Status ChargingProfileStatus `json:"status"`
}

// ClearChargingProfileRequest (central system -> charge point). Every
// field narrows which profiles are cleared; none clears all.
type ClearChargingProfileRequest struct {
	Id                     *int                   `json:"id,omitempty"`
	ConnectorId            *int                   `json:"connectorId,omitempty"`
	ChargingProfilePurpose ChargingProfilePurpose `json:"chargingProfilePurpose,omitempty"`
	StackLevel             *int                   `json:"stackLevel,omitempty"`
}

// ClearChargingProfileResponse answers ClearChargingProfileRequest.
type ClearChargingProfileResponse struct {
	Status ClearChargingProfileStatus `json:"status"`
}

// GetCompositeScheduleRequest (central system -> charge point). Duration
// is in seconds.
type GetCompositeScheduleRequest struct {
	ConnectorId      int              `json:"connectorId"`
	Duration         int              `json:"duration"`
	ChargingRateUnit ChargingRateUnit `json:"chargingRateUnit,omitempty"`
}

// GetCompositeScheduleResponse answers GetCompositeScheduleRequest.
type GetCompositeScheduleResponse struct {
	Status           GetCompositeScheduleStatus `json:"status"`
	ConnectorId      *int                       `json:"connectorId,omitempty"`
	ScheduleStart    *time.Time                 `json:"scheduleStart,omitempty"`
	ChargingSchedule *ChargingSchedule          `json:"chargingSchedule,omitempty"`
}
