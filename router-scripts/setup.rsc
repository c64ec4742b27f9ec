# tgate setup for router {{ROUTER}}. `tgate router script {{ROUTER}}` fills
# this in; `tgate router bootstrap {{ROUTER}}` applies the same over SSH and
# may be run again (it sends only what is missing). Pasted by hand, run it
# once. See docs/router-scripts.md.
#
# The address lists ({{SANDBOX_LIST}}, {{PERMIT_LIST}}, {{BAN_LIST}}) need no command: a
# RouterOS list exists as soon as tgate or the scripts put an entry in it.
#
# Firewall rules, found again by their "tgate:" comments. They are appended
# to each chain: move them above any rule that accepts traffic from VPN
# clients, or they never see it.
/ip firewall filter add chain=input action=drop protocol=udp dst-port=500,1701,4500 src-address-list={{BAN_LIST}} comment="tgate: drop banned callers on L2TP/IPsec ports"
/ip firewall filter add chain=input action=drop protocol=tcp dst-port=443,1194,1723 src-address-list={{BAN_LIST}} comment="tgate: drop banned callers on SSTP, OpenVPN and PPTP ports"
/ip firewall filter add chain=forward action=accept src-address-list={{PERMIT_LIST}} comment="tgate: forward confirmed clients"
/ip firewall filter add chain=forward action=drop src-address-list={{SANDBOX_LIST}} comment="tgate: hold unconfirmed clients"
# (only with vpn_pool set in tgate.toml)
/ip firewall filter add chain=forward action=drop src-address="{{VPN_POOL}}" src-address-list=!{{PERMIT_LIST}} comment="tgate: drop unconfirmed VPN pool addresses"
# The PPP profile's scripts (on-up.rsc and on-down.rsc, filled in).
/ppp profile set [find name={{PPP_PROFILE}}] on-up={{ON_UP}} on-down={{ON_DOWN}}
# The least privilege tgate needs: log in over SSH, read lists and sessions,
# change lists and disconnect sessions.
/user group add name={{GROUP}} policy={{POLICY}}
# tgate's own login. Bootstrap creates it with tgate.toml's password; by
# hand, choose the password and put the same in tgate.toml:
# /user add name={{USER}} group={{GROUP}} password=...
/ip ssh set strong-crypto=yes
