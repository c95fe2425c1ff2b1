"""Usenet: articles posted to newsgroups over NNTP (RFC 3977), each under a Message-ID Crier chooses."""
