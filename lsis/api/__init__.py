"""Machinery every endpoint of the partner REST API shares: errors, authentication, paging, exports, caching."""
