-- 002-msgid-node.sql: the node that took a Message-ID claim (htg-milter's
-- "node"), so that a retry through another node knows it cannot look in
-- that node's queue for the proof of a commit (milter-claim.c). An
-- existing claim reads as taken on an unknown node ('').
ALTER TABLE htg.msgids ADD COLUMN node text NOT NULL DEFAULT '';
