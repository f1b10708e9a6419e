package ocpp16

// TriggerMessageRequest (central system -> charge point) of the Remote
// Trigger profile.
type TriggerMessageRequest struct {
	RequestedMessage MessageTrigger `json:"requestedMessage"`
	ConnectorId      *int           `json:"connectorId,omitempty"`
}

// TriggerMessageResponse answers TriggerMessageRequest.
type TriggerMessageResponse struct {
	Status TriggerMessageStatus `json:"status"`
}
