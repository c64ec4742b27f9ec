//! Test and demo doubles: a RouterOS router over real SSH and a Telegram Bot API server.
