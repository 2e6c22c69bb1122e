create schema if not exists pgq_coop;
