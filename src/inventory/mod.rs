//! Ansible-style inventories. (being built)
