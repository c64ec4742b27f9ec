# tgate on-down for router {{ROUTER}}: runs when a PPP session ends. It
# drops the tunnel address from the sandbox and permit lists itself, so the
# next client given that address is not let through when tgate cannot be
# reached, then tells tgate. `tgate router script` fills this in.
:local url "{{PUBLIC_URL}}/v1/events/down"
:local auth "Authorization: Bearer {{TOKEN}}"
:local remoteaddr $"remote-address"
:local localaddr $"local-address"
:local callerid $"caller-id"
:do { /ip firewall address-list remove [find list={{SANDBOX_LIST}} address=$remoteaddr] } on-error={}
:do { /ip firewall address-list remove [find list={{PERMIT_LIST}} address=$remoteaddr] } on-error={}
:local ifname ""
:do { :set ifname [/interface get $interface name] } on-error={}
:local chat ""
:do { :set chat [/ppp secret get [find name=$user] comment] } on-error={}
:local payload "{\"user\":\"$user\",\"caller_id\":\"$callerid\",\"remote_address\":\"$remoteaddr\",\"local_address\":\"$localaddr\",\"service\":\"\",\"interface\":\"$ifname\",\"chat_id\":\"$chat\"}"
:do {
  /tool fetch url=$url http-method=post http-header-field="Content-Type: application/json,$auth" http-data=$payload output=none
} on-error={ :log warning "tgate: down event for $user not delivered" }
