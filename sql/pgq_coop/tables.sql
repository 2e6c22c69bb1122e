-- pgq_coop keeps no tables of its own: a cooperative consumer is a pgq consumer, and each of
-- its subconsumers is another pgq consumer named '<consumer>.<subconsumer>' whose
-- pgq.subscription row shares the main consumer's sub_id (so retried events, owned by that
-- sub_id, belong to the whole group). The main consumer's row tracks the group's position;
-- a subconsumer's row holds the batch it is working on.
create schema if not exists pgq_coop;
