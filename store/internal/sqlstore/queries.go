package sqlstore

// Query names one statement of the Store. A [DB] runs it by its index into
// [Dialect.Render]'s texts, which lets a backend prepare every statement
// once and find it again without hashing its text.
type Query int

const (
	useRequest Query = iota

	signIn

	createCode
	consumeCode
	usedCode

	createSession
	getSession
	lockSession
	endSession
	revokeSessionFamilies
	moveSessionFamilies
	moveSessionCodes

	createFamily
	createRefreshToken
	createFamilyToken
	getRefreshToken
	rotate
	rotateInsert
	rotateCheck
	revokeFamily
	tombstoneFamily

	revokeAccessToken
	accessTokenRevoked

	createDevice
	pendingDevice
	decideDevice
	lockDevice
	recordPoll
	deleteDevice

	deleteExpiredUsedRequests
	deleteExpiredCodes
	deleteExpiredSessions
	deleteExpiredRefreshTokens
	deleteExpiredFamilies
	deleteExpiredRevocations
	deleteExpiredDevices

	addSigningKey
	olderSigningKey
	deleteSigningKeys

	recordFailure
	clearStreak
	failuresOf
	deleteExpiredThrottles

	numQueries
)

// statements holds each Query's text and, for a statement that decides a
// race by locking rows, its lock clause (see [Dialect.RowLocks]); a
// statement that writes inside WITH is marked writingCTE (see
// [Dialect.WritingCTEs]). The texts live next to the methods that run them.
var statements = [numQueries]struct {
	sql, lock  string
	writingCTE bool
}{
	useRequest: {sql: useRequestSQL},
	signIn:     {sql: signInSQL, writingCTE: true},

	createCode:  {sql: createCodeSQL},
	consumeCode: {sql: consumeCodeSQL},
	usedCode:    {sql: usedCodeSQL},

	createSession:         {sql: createSessionSQL},
	getSession:            {sql: getSessionSQL},
	lockSession:           {sql: lockSessionSQL, lock: "FOR UPDATE"},
	endSession:            {sql: endSessionSQL},
	revokeSessionFamilies: {sql: revokeSessionFamiliesSQL},
	moveSessionFamilies:   {sql: moveSessionFamiliesSQL},
	moveSessionCodes:      {sql: moveSessionCodesSQL},

	createFamily:       {sql: createFamilySQL},
	createRefreshToken: {sql: createRefreshTokenSQL},
	createFamilyToken:  {sql: createFamilyTokenSQL, writingCTE: true},
	getRefreshToken:    {sql: getRefreshTokenSQL},
	rotate:             {sql: rotateSQL},
	rotateInsert:       {sql: rotateInsertSQL, writingCTE: true},
	// FOR NO KEY UPDATE: the token's and the family's rows are locked
	// against updates, not against the foreign-key check of a token
	// inserted in the family meanwhile.
	rotateCheck:     {sql: rotateCheckSQL, lock: "FOR NO KEY UPDATE OF t, f"},
	revokeFamily:    {sql: revokeFamilySQL},
	tombstoneFamily: {sql: tombstoneFamilySQL},

	revokeAccessToken:  {sql: revokeAccessTokenSQL},
	accessTokenRevoked: {sql: accessTokenRevokedSQL},

	createDevice:  {sql: createDeviceSQL},
	pendingDevice: {sql: pendingDeviceSQL},
	decideDevice:  {sql: decideDeviceSQL},
	lockDevice:    {sql: lockDeviceSQL, lock: "FOR UPDATE"},
	recordPoll:    {sql: recordPollSQL},
	deleteDevice:  {sql: deleteDeviceSQL},

	deleteExpiredUsedRequests:  {sql: deleteExpiredUsedRequestsSQL},
	deleteExpiredCodes:         {sql: deleteExpiredCodesSQL},
	deleteExpiredSessions:      {sql: deleteExpiredSessionsSQL},
	deleteExpiredRefreshTokens: {sql: deleteExpiredRefreshTokensSQL},
	deleteExpiredFamilies:      {sql: deleteExpiredFamiliesSQL},
	deleteExpiredRevocations:   {sql: deleteExpiredRevocationsSQL},
	deleteExpiredDevices:       {sql: deleteExpiredDevicesSQL},

	addSigningKey:     {sql: addSigningKeySQL},
	olderSigningKey:   {sql: olderSigningKeySQL},
	deleteSigningKeys: {sql: deleteSigningKeysSQL},

	recordFailure:          {sql: recordFailureSQL},
	clearStreak:            {sql: clearStreakSQL},
	failuresOf:             {sql: failuresOfSQL},
	deleteExpiredThrottles: {sql: deleteExpiredThrottlesSQL},
}
