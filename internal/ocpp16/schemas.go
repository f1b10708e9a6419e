package ocpp16

// The schemas of OCPP 1.6 JSON (the OCA's schema files), property by
// property. CiStringNType is a string of at most N characters.

var idTagInfo = obj(
	dateTime("expiryDate"),
	str("parentIdTag", 20),
	enum("status", authorizationStatuses).req(),
)

var sampledValue = obj(
	str("value", 0).req(),
	enum("context", readingContexts),
	enum("format", valueFormats),
	enum("measurand", measurands),
	enum("phase", phases),
	enum("location", locations),
	enum("unit", unitsOfMeasure),
)

// meterValue requires at least one sampledValue in MeterValues.req; the
// StopTransaction.req schema has no minItems for transactionData's.
func meterValue(minSamples int) *schema {
	return obj(
		dateTime("timestamp").req(),
		array("sampledValue", object("", sampledValue), minSamples).req(),
	)
}

var chargingSchedule = obj(
	integer("duration"),
	dateTime("startSchedule"),
	enum("chargingRateUnit", chargingRateUnits).req(),
	array("chargingSchedulePeriod", object("", obj(
		integer("startPeriod").req(),
		decimal1("limit").req(),
		integer("numberPhases"),
	)), 0).req(),
	decimal1("minChargingRate"),
)

var chargingProfile = obj(
	integer("chargingProfileId").req(),
	integer("transactionId"),
	integer("stackLevel").req(),
	enum("chargingProfilePurpose", chargingProfilePurposes).req(),
	enum("chargingProfileKind", chargingProfileKinds).req(),
	enum("recurrencyKind", recurrencyKinds),
	dateTime("validFrom"),
	dateTime("validTo"),
	object("chargingSchedule", chargingSchedule).req(),
)

func statusOnly(values []string) *schema { return obj(enum("status", values).req()) }

var empty = obj()

var (
	authorizeReq  = obj(str("idTag", 20).req())
	authorizeConf = obj(object("idTagInfo", idTagInfo).req())

	bootNotificationReq = obj(
		str("chargePointVendor", 20).req(),
		str("chargePointModel", 20).req(),
		str("chargePointSerialNumber", 25),
		str("chargeBoxSerialNumber", 25),
		str("firmwareVersion", 50),
		str("iccid", 20),
		str("imsi", 20),
		str("meterType", 25),
		str("meterSerialNumber", 25),
	)
	bootNotificationConf = obj(
		enum("status", registrationStatuses).req(),
		dateTime("currentTime").req(),
		integer("interval").req(),
	)

	changeAvailabilityReq = obj(
		integer("connectorId").req(),
		enum("type", availabilityTypes).req(),
	)
	changeAvailabilityConf = statusOnly(availabilityStatuses)

	changeConfigurationReq = obj(
		str("key", 50).req(),
		str("value", 500).req(),
	)
	changeConfigurationConf = statusOnly(configurationStatuses)

	clearCacheConf = statusOnly(clearCacheStatuses)

	dataTransferReq = obj(
		str("vendorId", 255).req(),
		str("messageId", 50),
		str("data", 0),
	)
	dataTransferConf = obj(
		enum("status", dataTransferStatuses).req(),
		str("data", 0),
	)

	getConfigurationReq  = obj(array("key", str("", 50), 0))
	getConfigurationConf = obj(
		array("configurationKey", object("", obj(
			str("key", 50).req(),
			boolean("readonly").req(),
			str("value", 500),
		)), 0),
		array("unknownKey", str("", 50), 0),
	)

	heartbeatConf = obj(dateTime("currentTime").req())

	meterValuesReq = obj(
		integer("connectorId").req(),
		integer("transactionId"),
		array("meterValue", object("", meterValue(1)), 1).req(),
	)

	remoteStartTransactionReq = obj(
		integer("connectorId"),
		str("idTag", 20).req(),
		object("chargingProfile", chargingProfile),
	)
	remoteStartStopConf = statusOnly(remoteStartStopStatuses)

	remoteStopTransactionReq = obj(integer("transactionId").req())

	resetReq  = obj(enum("type", resetTypes).req())
	resetConf = statusOnly(resetStatuses)

	startTransactionReq = obj(
		integer("connectorId").req(),
		str("idTag", 20).req(),
		integer("meterStart").req(),
		integer("reservationId"),
		dateTime("timestamp").req(),
	)
	startTransactionConf = obj(
		object("idTagInfo", idTagInfo).req(),
		integer("transactionId").req(),
	)

	statusNotificationReq = obj(
		integer("connectorId").req(),
		enum("errorCode", chargePointErrorCodes).req(),
		str("info", 50),
		enum("status", chargePointStatuses).req(),
		dateTime("timestamp"),
		str("vendorId", 255),
		str("vendorErrorCode", 50),
	)

	stopTransactionReq = obj(
		str("idTag", 20),
		integer("meterStop").req(),
		dateTime("timestamp").req(),
		integer("transactionId").req(),
		enum("reason", reasons),
		array("transactionData", object("", meterValue(0)), 0),
	)
	stopTransactionConf = obj(object("idTagInfo", idTagInfo))

	unlockConnectorReq  = obj(integer("connectorId").req())
	unlockConnectorConf = statusOnly(unlockStatuses)

	setChargingProfileReq = obj(
		integer("connectorId").req(),
		object("csChargingProfiles", chargingProfile).req(),
	)
	setChargingProfileConf = statusOnly(chargingProfileStatuses)

	clearChargingProfileReq = obj(
		integer("id"),
		integer("connectorId"),
		enum("chargingProfilePurpose", chargingProfilePurposes),
		integer("stackLevel"),
	)
	clearChargingProfileConf = statusOnly(clearChargingProfileStatuses)

	getCompositeScheduleReq = obj(
		integer("connectorId").req(),
		integer("duration").req(),
		enum("chargingRateUnit", chargingRateUnits),
	)
	getCompositeScheduleConf = obj(
		enum("status", getCompositeScheduleStatuses).req(),
		integer("connectorId"),
		dateTime("scheduleStart"),
		object("chargingSchedule", chargingSchedule),
	)

	triggerMessageReq = obj(
		enum("requestedMessage", messageTriggers).req(),
		integer("connectorId"),
	)
	triggerMessageConf = statusOnly(triggerMessageStatuses)
)
