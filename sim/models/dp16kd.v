// Behavioural model of the Lattice ECP5 DP16KD block RAM (sysMEM EBR, 18 kbit), for
// simulating pqvote's post-synthesis netlists under Verilator. The ECP5 cell models that
// ship with yosys declare DP16KD as a black box only.
//
// The array is 1,024 words of 18 bits (two 9-bit bytes). Each port sees it at its own
// width (DATA_WIDTH_x):
//   36  pseudo dual port (yosys maps 36-bit memories so): port A writes only, data
//       {DIB, DIA}, word ADA[13:5] = array words 2w (low 18 bits) and 2w+1 (high), byte
//       enables ADA[3:0] (byte k = data bits 9k+8..9k); port B reads only, data {DOB, DOA}
//   18  word AD[13:4]; on writes AD[1:0] are the byte enables (bits 8..0, 17..9)
//    9  byte AD[13:3]: byte (a & 1) of word a >> 1
//  4/2/1 AD[13:2] / AD[13:1] / AD[13:0]: the 16 data bits of a word (bits 7..0 and
//       16..9; the ninth bit of each byte is only reachable at 9/18/36), lowest first
// INITVAL_00 … INITVAL_3F hold 16 words each: word 16·i + j in bits 20j+17 … 20j.
//
// On a rising clock edge (CLKxMUX "INV": falling) with the port's chip select matching
// CSDECODE_x and CEx high: with WEx low the output takes the addressed data; with WEx high
// the addressed data is written and the output follows WRITEMODE_x: NORMAL holds it,
// WRITETHROUGH shows the written data, READBEFOREWRITE the data before the write. RSTx
// (RESETMODE "SYNC": on the clock edge regardless of CEx; "ASYNC": at once) clears the
// output; outputs start at zero. REGMODE "NOREG" only (yosys does not use the output
// register); any other parameter value outside these modes stops the simulation at
// start-up rather than simulating something unmodelled. When the two ports touch the
// same word on the same edge, a read sees the data before the other port's write, and of
// two writes port B's lands last (the device leaves both undefined).

module DP16KD (
  input DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0,
  input ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0,
  input CEA, OCEA, CLKA, WEA, RSTA,
  input CSA2, CSA1, CSA0,
  output DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0,

  input DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0,
  input ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0,
  input CEB, OCEB, CLKB, WEB, RSTB,
  input CSB2, CSB1, CSB0,
  output DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0
);
  parameter DATA_WIDTH_A = 18;
  parameter DATA_WIDTH_B = 18;
  parameter REGMODE_A = "NOREG";
  parameter REGMODE_B = "NOREG";
  parameter RESETMODE = "SYNC";
  parameter ASYNC_RESET_RELEASE = "SYNC";
  parameter CSDECODE_A = "0b000";
  parameter CSDECODE_B = "0b000";
  parameter WRITEMODE_A = "NORMAL";
  parameter WRITEMODE_B = "NORMAL";
  parameter CLKAMUX = "CLKA";
  parameter CLKBMUX = "CLKB";
  parameter GSR = "ENABLED";
  parameter WID = 0;
  parameter INIT_DATA = "STATIC";
  parameter [319:0] INITVAL_00 = 320'h0, INITVAL_01 = 320'h0, INITVAL_02 = 320'h0, INITVAL_03 = 320'h0;
  parameter [319:0] INITVAL_04 = 320'h0, INITVAL_05 = 320'h0, INITVAL_06 = 320'h0, INITVAL_07 = 320'h0;
  parameter [319:0] INITVAL_08 = 320'h0, INITVAL_09 = 320'h0, INITVAL_0A = 320'h0, INITVAL_0B = 320'h0;
  parameter [319:0] INITVAL_0C = 320'h0, INITVAL_0D = 320'h0, INITVAL_0E = 320'h0, INITVAL_0F = 320'h0;
  parameter [319:0] INITVAL_10 = 320'h0, INITVAL_11 = 320'h0, INITVAL_12 = 320'h0, INITVAL_13 = 320'h0;
  parameter [319:0] INITVAL_14 = 320'h0, INITVAL_15 = 320'h0, INITVAL_16 = 320'h0, INITVAL_17 = 320'h0;
  parameter [319:0] INITVAL_18 = 320'h0, INITVAL_19 = 320'h0, INITVAL_1A = 320'h0, INITVAL_1B = 320'h0;
  parameter [319:0] INITVAL_1C = 320'h0, INITVAL_1D = 320'h0, INITVAL_1E = 320'h0, INITVAL_1F = 320'h0;
  parameter [319:0] INITVAL_20 = 320'h0, INITVAL_21 = 320'h0, INITVAL_22 = 320'h0, INITVAL_23 = 320'h0;
  parameter [319:0] INITVAL_24 = 320'h0, INITVAL_25 = 320'h0, INITVAL_26 = 320'h0, INITVAL_27 = 320'h0;
  parameter [319:0] INITVAL_28 = 320'h0, INITVAL_29 = 320'h0, INITVAL_2A = 320'h0, INITVAL_2B = 320'h0;
  parameter [319:0] INITVAL_2C = 320'h0, INITVAL_2D = 320'h0, INITVAL_2E = 320'h0, INITVAL_2F = 320'h0;
  parameter [319:0] INITVAL_30 = 320'h0, INITVAL_31 = 320'h0, INITVAL_32 = 320'h0, INITVAL_33 = 320'h0;
  parameter [319:0] INITVAL_34 = 320'h0, INITVAL_35 = 320'h0, INITVAL_36 = 320'h0, INITVAL_37 = 320'h0;
  parameter [319:0] INITVAL_38 = 320'h0, INITVAL_39 = 320'h0, INITVAL_3A = 320'h0, INITVAL_3B = 320'h0;
  parameter [319:0] INITVAL_3C = 320'h0, INITVAL_3D = 320'h0, INITVAL_3E = 320'h0, INITVAL_3F = 320'h0;

  localparam [64*320-1:0] INIT_ALL = {
    INITVAL_3F, INITVAL_3E, INITVAL_3D, INITVAL_3C, INITVAL_3B, INITVAL_3A, INITVAL_39, INITVAL_38,
    INITVAL_37, INITVAL_36, INITVAL_35, INITVAL_34, INITVAL_33, INITVAL_32, INITVAL_31, INITVAL_30,
    INITVAL_2F, INITVAL_2E, INITVAL_2D, INITVAL_2C, INITVAL_2B, INITVAL_2A, INITVAL_29, INITVAL_28,
    INITVAL_27, INITVAL_26, INITVAL_25, INITVAL_24, INITVAL_23, INITVAL_22, INITVAL_21, INITVAL_20,
    INITVAL_1F, INITVAL_1E, INITVAL_1D, INITVAL_1C, INITVAL_1B, INITVAL_1A, INITVAL_19, INITVAL_18,
    INITVAL_17, INITVAL_16, INITVAL_15, INITVAL_14, INITVAL_13, INITVAL_12, INITVAL_11, INITVAL_10,
    INITVAL_0F, INITVAL_0E, INITVAL_0D, INITVAL_0C, INITVAL_0B, INITVAL_0A, INITVAL_09, INITVAL_08,
    INITVAL_07, INITVAL_06, INITVAL_05, INITVAL_04, INITVAL_03, INITVAL_02, INITVAL_01, INITVAL_00};

  // ---- the array ------------------------------------------------------------------------
  reg [17:0] mem [0:1023];
  integer k;
  initial begin
    for (k = 0; k < 1024; k = k + 1)
      mem[k] = INIT_ALL[(k / 16) * 320 + (k % 16) * 20 +: 18];
  end

  // ---- parameter checks: stop on a mode this model does not cover -------------------------
  function automatic valid_width(input integer w);
    valid_width = (w == 1 || w == 2 || w == 4 || w == 9 || w == 18 || w == 36);
  endfunction
  function automatic valid_writemode(input [8*15:1] m);
    valid_writemode = (m == "NORMAL" || m == "WRITETHROUGH" || m == "READBEFOREWRITE");
  endfunction
  function automatic [2:0] csdecode(input [8*5:1] s);
    // "0bXYZ": the chip-select value that enables the port (CS2 CS1 CS0)
    csdecode = {s[24:17] == "1", s[16:9] == "1", s[8:1] == "1"};
  endfunction
  initial begin
    if (!valid_width(DATA_WIDTH_A) || !valid_width(DATA_WIDTH_B))
      $fatal(1, "DP16KD model: DATA_WIDTH_A=%0d / DATA_WIDTH_B=%0d not modelled", DATA_WIDTH_A, DATA_WIDTH_B);
    if (DATA_WIDTH_B == 36 && DATA_WIDTH_A != 36 && DATA_WIDTH_A != 18 && DATA_WIDTH_A != 9
        && DATA_WIDTH_A != 4 && DATA_WIDTH_A != 2 && DATA_WIDTH_A != 1)
      $fatal(1, "DP16KD model: impossible widths");
    if (REGMODE_A != "NOREG" || REGMODE_B != "NOREG")
      $fatal(1, "DP16KD model: only REGMODE NOREG is modelled");
    if (RESETMODE != "SYNC" && RESETMODE != "ASYNC")
      $fatal(1, "DP16KD model: RESETMODE %s not modelled", RESETMODE);
    if (!valid_writemode(WRITEMODE_A) || !valid_writemode(WRITEMODE_B))
      $fatal(1, "DP16KD model: WRITEMODE %s / %s not modelled", WRITEMODE_A, WRITEMODE_B);
    if (CLKAMUX != "CLKA" && CLKAMUX != "INV")
      $fatal(1, "DP16KD model: CLKAMUX %s not modelled", CLKAMUX);
    if (CLKBMUX != "CLKB" && CLKBMUX != "INV")
      $fatal(1, "DP16KD model: CLKBMUX %s not modelled", CLKBMUX);
  end

  // ---- address and data mapping -----------------------------------------------------------
  // Bit position inside an 18-bit word of data bit `i` of a narrow (1/2/4-bit) unit: the
  // 16 data bits skip bit 8 (the ninth bit of the low byte).
  function automatic integer narrow_bit(input integer i);
    narrow_bit = (i < 8) ? i : i + 1;
  endfunction

  // Read the unit addressed by `ad` at width `w` (w <= 18; 36 reads two words).
  function automatic [35:0] read_unit(input integer w, input [13:0] ad);
    integer i, base;
    reg [17:0] word;
    begin
      read_unit = 36'd0;
      case (w)
        36: read_unit = {mem[{ad[13:5], 1'b1}], mem[{ad[13:5], 1'b0}]};
        18: read_unit[17:0] = mem[ad[13:4]];
        9:  begin word = mem[ad[13:4]]; read_unit[8:0] = ad[3] ? word[17:9] : word[8:0]; end
        default: begin  // 4, 2, 1
          word = mem[ad[13:4]];
          base = (w == 4) ? ad[3:2] * 4 : (w == 2) ? ad[3:1] * 2 : ad[3:0];
          for (i = 0; i < w; i = i + 1)
            read_unit[i] = word[narrow_bit(base + i)];
        end
      endcase
    end
  endfunction

  // ---- the ports ----------------------------------------------------------------------------
  wire [13:0] ada = {ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0};
  wire [13:0] adb = {ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0};
  wire [17:0] dia = {DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0};
  wire [17:0] dib = {DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0};
  wire clka = (CLKAMUX == "INV") ? ~CLKA : CLKA;
  wire clkb = (CLKBMUX == "INV") ? ~CLKB : CLKB;
  wire sela = {CSA2, CSA1, CSA0} == csdecode(CSDECODE_A);
  wire selb = {CSB2, CSB1, CSB0} == csdecode(CSDECODE_B);
  // in 36-bit mode port A's data is {DIB, DIA}; a 36-bit port B reads onto {DOB, DOA}
  wire [35:0] wdata_a = (DATA_WIDTH_A == 36) ? {dib, dia} : {18'd0, dia};
  wire [35:0] wdata_b = {18'd0, dib};
  wire write_a = sela && CEA && (DATA_WIDTH_A == 36 || WEA);
  wire write_b = selb && CEB && WEB && DATA_WIDTH_A != 36 && DATA_WIDTH_B != 36;
  wire read_b_port = 1'b1;                                       // port B always reads
  wire read_a_port = DATA_WIDTH_A != 36 && DATA_WIDTH_B != 36;   // port A reads

  reg [35:0] q_a = 36'd0, q_b = 36'd0;

  // one port's write: the units it changes, with byte enables where the width has them
  task automatic write_unit(input integer w, input [13:0] ad, input [35:0] d);
    integer i, base;
    begin
      case (w)
        36: begin
          if (ad[0]) mem[{ad[13:5], 1'b0}][8:0]  <= d[8:0];
          if (ad[1]) mem[{ad[13:5], 1'b0}][17:9] <= d[17:9];
          if (ad[2]) mem[{ad[13:5], 1'b1}][8:0]  <= d[26:18];
          if (ad[3]) mem[{ad[13:5], 1'b1}][17:9] <= d[35:27];
        end
        18: begin
          if (ad[0]) mem[ad[13:4]][8:0]  <= d[8:0];
          if (ad[1]) mem[ad[13:4]][17:9] <= d[17:9];
        end
        9: if (ad[3]) mem[ad[13:4]][17:9] <= d[8:0]; else mem[ad[13:4]][8:0] <= d[8:0];
        default: begin
          base = (w == 4) ? ad[3:2] * 4 : (w == 2) ? ad[3:1] * 2 : ad[3:0];
          for (i = 0; i < w; i = i + 1)
            mem[ad[13:4]][narrow_bit(base + i)] <= d[i];
        end
      endcase
    end
  endtask

  // what the output shows after a write at width w (byte enables of 18 and 36 applied)
  function automatic [35:0] written_unit(input integer w, input [13:0] ad, input [35:0] d);
    reg [35:0] old;
    begin
      old = read_unit(w, ad);
      written_unit = d;
      if (w == 18) begin
        if (!ad[0]) written_unit[8:0] = old[8:0];
        if (!ad[1]) written_unit[17:9] = old[17:9];
      end
    end
  endfunction

  generate
    if (RESETMODE == "ASYNC") begin : g_async
      always @(posedge clka or posedge RSTA) begin
        if (RSTA) q_a <= 36'd0;
        else if (sela && CEA) begin
          if (write_a) begin
            write_unit(DATA_WIDTH_A, ada, wdata_a);
            if (read_a_port && WRITEMODE_A == "WRITETHROUGH") q_a <= written_unit(DATA_WIDTH_A, ada, wdata_a);
            else if (read_a_port && WRITEMODE_A == "READBEFOREWRITE") q_a <= read_unit(DATA_WIDTH_A, ada);
          end else if (read_a_port) q_a <= read_unit(DATA_WIDTH_A, ada);
        end
      end
      always @(posedge clkb or posedge RSTB) begin
        if (RSTB) q_b <= 36'd0;
        else if (selb && CEB) begin
          if (write_b) begin
            write_unit(DATA_WIDTH_B, adb, wdata_b);
            if (WRITEMODE_B == "WRITETHROUGH") q_b <= written_unit(DATA_WIDTH_B, adb, wdata_b);
            else if (WRITEMODE_B == "READBEFOREWRITE") q_b <= read_unit(DATA_WIDTH_B, adb);
          end else if (read_b_port) q_b <= read_unit(DATA_WIDTH_B, adb);
        end
      end
    end else begin : g_sync
      always @(posedge clka) begin
        if (RSTA) q_a <= 36'd0;
        if (sela && CEA) begin
          if (write_a) begin
            write_unit(DATA_WIDTH_A, ada, wdata_a);
            if (!RSTA && read_a_port && WRITEMODE_A == "WRITETHROUGH") q_a <= written_unit(DATA_WIDTH_A, ada, wdata_a);
            else if (!RSTA && read_a_port && WRITEMODE_A == "READBEFOREWRITE") q_a <= read_unit(DATA_WIDTH_A, ada);
          end else if (!RSTA && read_a_port) q_a <= read_unit(DATA_WIDTH_A, ada);
        end
      end
      always @(posedge clkb) begin
        if (RSTB) q_b <= 36'd0;
        if (selb && CEB) begin
          if (write_b) begin
            write_unit(DATA_WIDTH_B, adb, wdata_b);
            if (!RSTB && WRITEMODE_B == "WRITETHROUGH") q_b <= written_unit(DATA_WIDTH_B, adb, wdata_b);
            else if (!RSTB && WRITEMODE_B == "READBEFOREWRITE") q_b <= read_unit(DATA_WIDTH_B, adb);
          end else if (!RSTB && read_b_port) q_b <= read_unit(DATA_WIDTH_B, adb);
        end
      end
    end
  endgenerate

  wire [17:0] doa = (DATA_WIDTH_B == 36) ? q_b[17:0] : q_a[17:0];
  wire [17:0] dob = (DATA_WIDTH_B == 36) ? q_b[35:18] : q_b[17:0];
  assign {DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0} = doa;
  assign {DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0} = dob;
endmodule
