      * Civil Registry nightly export: one 80-byte record per resident, cp037.
       01  RESIDENT-RECORD.
           05  NATIONAL-ID            PIC X(11).
           05  SURNAME                PIC X(20).
           05  GIVEN-NAME             PIC X(15).
           05  BIRTH-DATE             PIC 9(8).
           05  MUNICIPALITY-CODE      PIC X(4).
           05  HOUSEHOLD-SIZE         PIC 9(2).
           05  MONTHLY-ALLOWANCE      PIC S9(7)V99 COMP-3.
           05  FILLER                 PIC X(15).
