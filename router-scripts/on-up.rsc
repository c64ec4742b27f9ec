# tgate on-up for router {{ROUTER}}: runs when a PPP session comes up.
# It holds the tunnel address in the sandbox list first, so the client stays
# blocked even when tgate cannot be reached, then tells tgate, which asks
# the account's owner in Telegram. `tgate router script` fills this in.
:local url "{{PUBLIC_URL}}/v1/events/up"
:local auth "Authorization: Bearer {{TOKEN}}"
:local remoteaddr $"remote-address"
:local localaddr $"local-address"
:local callerid $"caller-id"
:do { /ip firewall address-list add list={{SANDBOX_LIST}} address=$remoteaddr comment="tgate: held" } on-error={}
# $interface is an id; the name (<l2tp-alice>) also tells tgate the service.
:local ifname ""
:do { :set ifname [/interface get $interface name] } on-error={}
# tik2fa kept the owner's chat id in the secret's comment; RADIUS users
# have no secret, so a failed lookup just sends no chat id.
:local chat ""
:do { :set chat [/ppp secret get [find name=$user] comment] } on-error={}
:local payload "{\"user\":\"$user\",\"caller_id\":\"$callerid\",\"remote_address\":\"$remoteaddr\",\"local_address\":\"$localaddr\",\"service\":\"\",\"interface\":\"$ifname\",\"chat_id\":\"$chat\"}"
:do {
  /tool fetch url=$url http-method=post http-header-field="Content-Type: application/json,$auth" http-data=$payload output=none
} on-error={ :log warning "tgate: up event for $user not delivered; the client stays sandboxed" }
