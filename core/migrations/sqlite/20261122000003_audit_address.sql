-- The audit log names a single address bare from now on (`203.0.113.7`);
-- ban records used to write it as a host network (`203.0.113.7/32`,
-- `2001:db8::1/128`). Rewriting those keeps one spelling per address, so a
-- filter on address is one equality. Lossless: a /32 (/128) is exactly the
-- address. An IPv6 /32 is a real network and is left alone.
UPDATE audit SET address = substr(address, 1, length(address) - 3)
WHERE address LIKE '%/32' AND address NOT LIKE '%:%';
UPDATE audit SET address = substr(address, 1, length(address) - 4)
WHERE address LIKE '%/128' AND address LIKE '%:%';
