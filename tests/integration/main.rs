//! converge's integration tests: the real binary, run on files written by each test.

mod ansible_compat;
mod bad_input;
mod bad_input_corpus;
mod ci;
mod cli;
mod compat;
mod e2e_home_server;
mod faults;
mod injection;
mod inventory_cli;
mod keywords;
mod lab;
mod lab_dhcpd;
mod lab_ip6tables;
mod lab_iproute;
mod lab_iptables;
mod lab_sendmail_mc;
mod lab_slackbuild;
mod lab_ssh;
mod lab_sysctl;
mod lab_xprofile;
mod local_apply;
mod support;
mod vault;
