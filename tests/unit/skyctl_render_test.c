/*
 * skyctl_render_test.c - what an operator sees from `skyctl status`.
 *
 * Each test renders a status object as heartbeatd would send it (or as a
 * broken or hostile one might) and checks the text on screen. JSON is
 * written with single quotes for readability; load() turns them into double
 * quotes.
 */
#include "render.h"
#include "test.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

/* The protocol.md sample, with a second network that is down. */
static const char sample_status[] =
	"{'cluster':'demo','module':'app','type':'mirror',"
	" 'node':{'name':'node1','role':'PRIM','epoch':7,'generation':12,"
	"         'data':'uptodate','serving':true,'role_for_ms':5230},"
	" 'peer':{'name':'node2','visible':true,'role':'SECOND','epoch':7,"
	"         'generation':12,'data':'uptodate','last_seen_ms':120,"
	"         "
	"'networks':[{'index':0,'local':'198.18.0.1','peer':'198.18.0.2',"
	"                      'up':true,'last_seen_ms':120},"
	"                     "
	"{'index':1,'local':'198.18.1.1','peer':'198.18.1.2',"
	"                      'up':false,'last_seen_ms':3400}]},"
	" 'quorum':{'mode':'witness','have':true,'via':'peer+witness'},"
	" 'witness':{'addresses':['198.18.0.10'],'lease':'held',"
	"            "
	"'expires_in_ms':840,'last_answer':'granted','holder':'node1'},"
	" 'transition':{'from':'SECOND','to':'ALONE',"
	"               'reason':'peer node2 lost on all networks',"
	"               "
	"'at':'2026-11-23T12:03:55Z','ago_ms':2300,'pending':''},"
	" 'actuators':{'replicd':{'state':'primary','epoch':7,'age_ms':300}},"
	" 'counters':{'tx':100,'tx_errors':0,'rx':98,'bad_mac':0,'replay':0,"
	"             'malformed':0,'wrong_cluster':0,'unknown_node':0,"
	"             'ctl_bad_requests':0,'bus_bad_messages':0},"
	" 'timing':{'interval_ms':200,'timeout_ms':1000}}";

static json_t *load(const char *single_quoted)
{
	char *text = strdup(single_quoted);
	json_error_t err;
	json_t *obj;

	for (char *p = text; *p; p++)
		if (*p == '\'')
			*p = '"';
	obj = json_loads(text, JSON_DECODE_ANY, &err);
	if (!obj)
		fprintf(stderr, "  bad test JSON: %s at %d: %s\n", err.text,
			err.position, text);
	free(text);
	return obj;
}

/* Render a status object and return the text (caller frees). */
static char *render(const json_t *status)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	CHECK(out != NULL);
	if (!out)
		return strdup("");
	CHECK_EQ_INT(skyctl_render_status(out, status), 0);
	fclose(out);
	return text;
}

/* The sample with status[object][key] (or status[key]) set to value. */
static json_t *sample_with(const char *object, const char *key,
			   const char *value)
{
	json_t *status = load(sample_status);
	json_t *target = object ? json_object_get(status, object) : status;

	json_object_set_new(target, key, load(value));
	return status;
}

static void test_both_nodes_up_shows_the_whole_picture(void)
{
	json_t *status = load(sample_status);
	char *text = render(status);

	CHECK_STR_CONTAINS(
		text,
		"module app (mirror) in cluster demo \xe2\x80\x94 epoch 7, "
		"quorum: peer+witness\n"
		"  NODE         ROLE    DATA      GEN  SEEN\n"
		"* node1        PRIM    uptodate   12  this node, serving, "
		"PRIM "
		"for 5.2 s\n"
		"  node2        SECOND  uptodate   12  120 ms ago\n"
		"networks:  #0 198.18.0.1 -> 198.18.0.2 up   #1 198.18.1.1 -> "
		"198.18.1.2 DOWN (last 3.4 s ago)\n"
		"witness:   198.18.0.10 lease held, 840 ms left (holder "
		"node1)\n"
		"last:      SECOND -> ALONE 2.3 s ago (2026-11-23T12:03:55Z): "
		"peer node2 lost on all networks\n"
		"actuators: replicd primary (epoch 7, 300 ms ago)\n"
		"dropped:   bad MAC 0, replay 0, malformed 0, wrong cluster 0, "
		"unknown node 0\n");
	/* Settled: no pending step, no waiting reason, nothing unknown. */
	CHECK(!strstr(text, "pending:"));
	CHECK(!strstr(text, "waiting:"));
	CHECK(!strstr(text, "?"));
	free(text);
	json_decref(status);
}

static void test_peer_lost_shows_lost_and_when_last_seen(void)
{
	json_t *status = load(
		"{'cluster':'demo','module':'app','type':'mirror',"
		" 'node':{'name':'node1','role':'ALONE','epoch':8,'generation':"
		"13,"
		"         'data':'uptodate','serving':true,'role_for_ms':2300},"
		" 'peer':{'name':'node2','visible':false,'role':'SECOND','"
		"epoch':7,"
		"         "
		"'generation':12,'data':'uptodate','last_seen_ms':3300,"
		"         'networks':[{'index':0,'local':'198.18.0.1',"
		"                      'peer':'198.18.0.2','up':false,"
		"                      'last_seen_ms':3300}]},"
		" 'quorum':{'mode':'witness','have':true,'via':'witness'},"
		" 'witness':{'addresses':['198.18.0.10','198.18.1.10'],"
		"            'lease':'held','expires_in_ms':1200,"
		"            'last_answer':'granted','holder':'node1'},"
		" 'transition':{'from':'PRIM','to':'ALONE','ago_ms':2300,"
		"               'at':'2026-11-23T12:03:55Z',"
		"               'reason':'peer node2 lost on all networks',"
		"               'pending':''},"
		" 'counters':{'bad_mac':3,'replay':1,'malformed':0,"
		"             "
		"'wrong_cluster':0,'unknown_node':2,'oversized':5}}");
	char *text = render(status);

	CHECK_STR_CONTAINS(text, "epoch 8, quorum: witness\n");
	CHECK_STR_CONTAINS(text, "* node1        ALONE   uptodate   13  this "
				 "node, serving, ALONE for 2.3 s\n");
	CHECK_STR_CONTAINS(text, "  node2        SECOND  uptodate   12  LOST, "
				 "last seen 3.3 s ago\n");
	CHECK_STR_CONTAINS(text, "#0 198.18.0.1 -> 198.18.0.2 DOWN (last 3.3 s "
				 "ago)\n");
	CHECK_STR_CONTAINS(text,
			   "witness:   198.18.0.10,198.18.1.10 lease held, "
			   "1.2 s left (holder node1)\n");
	CHECK_STR_CONTAINS(text, "last:      PRIM -> ALONE 2.3 s ago");
	CHECK_STR_CONTAINS(text,
			   "dropped:   bad MAC 3, replay 1, malformed 0, "
			   "wrong cluster 0, unknown node 2, oversized 5\n");
	/* No actuators key: no actuators line. */
	CHECK(!strstr(text, "actuators:"));
	free(text);
	json_decref(status);
}

static void test_etcd_quorum_shows_the_leader_key_and_last_error(void)
{
	json_t *status = sample_with(
		NULL, "witness",
		"{'addresses':['https://198.18.0.31:2379'],'lease':'refused',"
		" 'expires_in_ms':0,'last_answer':'held_by_other',"
		" 'holder':'node2'}");
	json_object_set_new(status, "quorum",
			    load("{'mode':'etcd','have':false,'via':'none'}"));
	json_object_set_new(
		status, "etcd",
		json_pack("{s:s}", "last_error",
			  "no endpoint answered /v3/lease/keepalive\x1b[2J"));
	char *text = render(status);

	CHECK_STR_CONTAINS(text, "etcd:      https://198.18.0.31:2379 lease "
				 "REFUSED");
	CHECK_STR_CONTAINS(text, "(holder node2); last error: no endpoint "
				 "answered /v3/lease/keepalive");
	CHECK(!strstr(text, "\x1b"));
	CHECK(!strstr(text, "witness:"));
	free(text);
	json_decref(status);
}

static void test_peer_never_seen_says_so(void)
{
	json_t *status = sample_with(
		NULL, "peer",
		"{'name':'node2','visible':false,'role':'UNKNOWN','epoch':0,"
		" 'generation':0,'data':'unknown','last_seen_ms':null,"
		" 'networks':[{'index':0,'local':'198.18.0.1','peer':'198.18.0."
		"2',"
		"              'up':false,'last_seen_ms':null}]}");
	char *text = render(status);

	CHECK_STR_CONTAINS(text, "  node2        UNKNOWN unknown     0  LOST, "
				 "never seen\n");
	CHECK_STR_CONTAINS(text,
			   "#0 198.18.0.1 -> 198.18.0.2 DOWN (never up)\n");
	free(text);
	json_decref(status);
}

static void test_several_witnesses_show_the_majority_and_each_one(void)
{
	json_t *status = load(
		"{'cluster':'demo','module':'app','type':'mirror',"
		" 'node':{'name':'node2','role':'ALONE','epoch':8,'generation':"
		"13,'data':'uptodate','serving':true,'role_for_ms':4000},"
		" 'peer':{'name':'node1','visible':false,'role':'PRIM',"
		"'generation':12,'data':'uptodate','last_seen_ms':5000,"
		"'networks':[]},"
		" 'quorum':{'mode':'witness','have':true,'via':'witness'},"
		" 'witness':{'addresses':['198.18.0.10','198.18.0.11',"
		"'198.18.0.12'],'lease':'held','expires_in_ms':800,"
		"'last_answer':'granted','holder':'node2','needed':2,"
		"'hosts':[{'addresses':['198.18.0.10'],'lease':'held',"
		"'expires_in_ms':900,'last_answer':'granted','holder':'node2'},"
		"{'addresses':['198.18.0.11'],'lease':'none','expires_in_ms':0,"
		"'last_answer':'no_answer','holder':''},"
		"{'addresses':['198.18.0.12'],'lease':'held','expires_in_ms':"
		"800,"
		"'last_answer':'granted','holder':'node2'}]},"
		" 'actuators':{}, 'counters':{}}");
	char *text = render(status);

	CHECK_STR_CONTAINS(
		text, "witness:   3 hosts, 2 needed: majority's leases held, "
		      "800 ms left\n");
	CHECK_STR_CONTAINS(text, "             198.18.0.10 lease held, 900 ms "
				 "left (holder node2)\n");
	CHECK_STR_CONTAINS(text, "             198.18.0.11 no lease (last "
				 "answer: no answer)\n");
	free(text);
	json_decref(status);
}

static void test_backups_show_the_last_success_and_what_is_wrong(void)
{
	json_t *status = load(
		"{'cluster':'demo','module':'app','type':'mirror',"
		" 'node':{'name':'node2','role':'SECOND','epoch':8,'generation'"
		":"
		"13,'data':'uptodate','serving':false,'role_for_ms':4000},"
		" 'quorum':{'mode':'witness','have':true,'via':'peer'},"
		" 'backups':[{'target':'local','stale':false,'age_s':720,"
		"'max_age_s':129600,'last_failure':null,"
		"'last_success':{'time_ms':1,'snapshot':'3fa2c1',"
		"'duration_ms':200,'bytes_read':2621440,"
		"'bytes_uploaded':317440}},"
		"{'target':'s3','stale':true,'age_s':200000,'max_age_s':129600,"
		"'last_success':{'time_ms':1,'snapshot':'aa','duration_ms':1,"
		"'bytes_read':0,'bytes_uploaded':0},"
		"'last_failure':{'time_ms':2,'reason':'403 AccessDenied'}},"
		"{'target':'blob','stale':true,'last_success':null,"
		"'last_failure':null},"
		"{'target':'x','error':'unreadable state file','stale':true}],"
		" 'actuators':{}, 'counters':{}}");
	char *text = render(status);

	CHECK_STR_CONTAINS(text, "backups:   local: 12 min ago, snapshot "
				 "3fa2c1, 2.5 MiB read, 310.0 KiB up, in "
				 "200 ms\n");
	CHECK_STR_CONTAINS(text, "           s3: LAST SUCCESS 2 d 7 h ago");
	CHECK_STR_CONTAINS(text, "(older than max_age 1 d 12 h); FAILED "
				 "since: 403 AccessDenied\n");
	CHECK_STR_CONTAINS(text, "           blob: NO SUCCESSFUL BACKUP yet\n");
	CHECK_STR_CONTAINS(text, "           x: unreadable state file\n");
	free(text);
	json_decref(status);
}

static void test_a_backup_requested_now_is_shown_and_names_the_unit(void)
{
	json_t *status = load(
		"{'cluster':'demo','module':'app','type':'mirror',"
		" 'node':{'name':'node2','role':'SECOND','epoch':8,'generation'"
		":13,'data':'uptodate','serving':false,'role_for_ms':4000},"
		" 'quorum':{'mode':'witness','have':true,'via':'peer'},"
		" 'backup':{'configured':true,'requested':true},"
		" 'actuators':{}, 'counters':{}}");
	char *text = render(status);

	CHECK_STR_CONTAINS(text, "backup:    now requested; systemd starts "
				 "skyha-backup@app.service\n");
	free(text);
	json_decref(status);
	status = load("{'cluster':'demo','module':'app','type':'mirror',"
		      " 'node':{'name':'node2','role':'SECOND'},"
		      " 'backup':{'configured':true,'requested':false},"
		      " 'actuators':{}, 'counters':{}}");
	text = render(status);
	CHECK(strstr(text, "now requested") == NULL);
	free(text);
	json_decref(status);
}

static void test_witness_refused_shows_refusal_and_lost_quorum(void)
{
	json_t *status = load(
		"{'cluster':'demo','module':'app','type':'mirror',"
		" 'node':{'name':'node1','role':'WAIT','epoch':7,'generation':"
		"12,"
		"         "
		"'data':'uptodate','serving':false,'role_for_ms':64000,"
		"         'waiting_for':'no quorum; waiting for the witness: "
		"held by node2'},"
		" 'peer':{'name':'node2','visible':false,'role':'PRIM',"
		"         "
		"'generation':12,'data':'uptodate','last_seen_ms':65000,"
		"         'networks':[]},"
		" 'quorum':{'mode':'witness','have':false,'via':'none'},"
		" 'witness':{'addresses':['198.18.0.10'],'lease':'refused',"
		"            'expires_in_ms':0,'last_answer':'held_by_other',"
		"            'holder':'node2'},"
		" 'transition':{'from':'PRIM','to':'WAIT','ago_ms':64000,"
		"               'at':'2026-11-23T12:03:55Z',"
		"               'reason':'lost quorum','pending':'vipd down'},"
		" 'actuators':{},"
		" 'counters':{'bad_mac':0,'replay':0,'malformed':0,"
		"             'wrong_cluster':0,'unknown_node':0}}");
	char *text = render(status);

	CHECK_STR_CONTAINS(text, "quorum: NONE, this node may not serve\n");
	CHECK_STR_CONTAINS(text,
			   "this node, not serving, WAIT for 1 min 4 s\n");
	CHECK_STR_CONTAINS(text, "LOST, last seen 1 min 5 s ago\n");
	CHECK_STR_CONTAINS(text,
			   "waiting:   no quorum; waiting for the witness: "
			   "held by node2\n");
	CHECK_STR_CONTAINS(text, "networks:  none\n");
	CHECK_STR_CONTAINS(text,
			   "witness:   198.18.0.10 lease REFUSED: held by "
			   "another node (holder node2)\n");
	CHECK_STR_CONTAINS(text, "last:      PRIM -> WAIT 1 min 4 s ago "
				 "(2026-11-23T12:03:55Z): lost quorum\n"
				 "pending:   waiting for vipd down\n");
	/* An empty actuators object is nothing to show. */
	CHECK(!strstr(text, "actuators:"));
	free(text);
	json_decref(status);
}

static void test_witness_without_lease_gives_last_answer(void)
{
	json_t *status = sample_with(
		NULL, "witness",
		"{'addresses':['198.18.0.10'],'lease':'none','expires_in_ms':0,"
		" 'last_answer':'no_answer','holder':''}");
	char *text = render(status);

	CHECK_STR_CONTAINS(text,
			   "witness:   198.18.0.10 no lease (last answer: "
			   "no answer)\n");
	free(text);
	json_decref(status);
}

static void test_secondary_not_asking_for_the_lease_is_normal(void)
{
	json_t *status = sample_with(
		NULL, "witness",
		"{'addresses':['198.18.0.10'],'lease':'none','expires_in_ms':0,"
		" 'last_answer':'no_answer','holder':''}");
	json_object_set_new(json_object_get(status, "node"), "role",
			    json_string("SECOND"));
	char *text = render(status);

	CHECK_STR_CONTAINS(text, "witness:   198.18.0.10 no lease (only the "
				 "primary holds it)\n");
	free(text);
	json_decref(status);
}

static void test_no_witness_configured(void)
{
	json_t *status = load(sample_status);
	char *text;

	/* heartbeatd still sends an idle witness object with quorum: none. */
	json_object_set_new(
		status, "witness",
		load("{'addresses':[],'lease':'none','expires_in_ms':0,"
		     " 'last_answer':'no_answer','holder':''}"));
	json_object_set_new(
		status, "quorum",
		load("{'mode':'none','have':true,'via':'disabled'}"));
	text = render(status);
	CHECK_STR_CONTAINS(text, "quorum: disabled\n");
	CHECK_STR_CONTAINS(text, "witness:   none configured\n");
	free(text);
	json_object_del(status, "witness");
	text = render(status);
	CHECK_STR_CONTAINS(text, "witness:   none configured\n");
	free(text);
	json_decref(status);
}

static void test_pending_step_and_actuators_not_there_yet(void)
{
	json_t *status = sample_with(
		NULL, "actuators",
		"{'replicd':{'target':'primary','state':'primary','epoch':7,"
		"            'age_ms':300,'reason':''},"
		" 'vipd':{'target':'up','state':'down','epoch':6,'age_ms':1500,"
		"         'reason':''},"
		" 'checkd':{'target':'up','state':'failed','epoch':7,"
		"           'age_ms':1000,'reason':'start script exited 1'},"
		" 'extra':{'target':'up','state':'unknown','epoch':0,"
		"          'age_ms':null,'reason':''}}");
	char *text;

	json_object_set_new(json_object_get(status, "transition"), "pending",
			    json_string("vipd up"));
	text = render(status);
	CHECK_STR_CONTAINS(text, "pending:   waiting for vipd up\n");
	CHECK_STR_CONTAINS(text,
			   "actuators: replicd primary (epoch 7, 300 ms "
			   "ago)   vipd down -> up (epoch 6, 1.5 s ago)   "
			   "checkd FAILED -> up (epoch 7, 1.0 s ago): start "
			   "script exited 1   extra unknown -> up (never "
			   "heard)\n");
	free(text);
	json_decref(status);
}

static void test_replication_progress_is_shown_and_hostile_text_tamed(void)
{
	json_t *status = sample_with(
		NULL, "actuators",
		"{'replicd':{'target':'secondary','state':'secondary','epoch':"
		"7,"
		"            'age_ms':300,'reason':'','data':'inconsistent',"
		"            'sync':'resyncing','resync':{'active':true,"
		"            'bytes_total':4194304,'bytes_done':1048576,"
		"            "
		"'bytes_left':3145728,'rate_bps':1048576,'eta_s':3}}}");
	char *text = render(status);
	CHECK_STR_CONTAINS(text, "replication: data inconsistent, resyncing: "
				 "1048576 of 4194304 bytes, 3145728 left, "
				 "1048576 B/s, ETA 3 s\n");
	free(text);
	json_decref(status);

	status = sample_with(NULL, "actuators",
			     "{'replicd':{'state':'primary','epoch':7,"
			     "'age_ms':3,'data':'up\\u001b[2Jto\\ndate',"
			     "'sync':'insync','resync':{'active':false,"
			     "'bytes_total':'x','bytes_done':-5,"
			     "'wire_bytes':7}}}");
	text = render(status);
	CHECK(strstr(text, "\x1b") == NULL);
	CHECK_STR_CONTAINS(text, "data up?[2Jto?date, insync; last resync -5 "
				 "of ? bytes (7 on the wire)\n");
	free(text);
	json_decref(status);

	/* Over a WAN: the cap and zstd's figures. */
	status = sample_with(
		NULL, "actuators",
		"{'replicd':{'state':'primary','epoch':7,'age_ms':3,"
		"'data':'uptodate','sync':'resyncing','resync':{'active':true,"
		"'bytes_total':4,'bytes_done':2,'bytes_left':2,'rate_bps':1,"
		"'eta_s':2,'max_bytes_per_s':65536,'compress':'zstd',"
		"'compressed_file_bytes':1000,'compressed_bytes':100}}}");
	text = render(status);
	CHECK_STR_CONTAINS(text,
			   "2 of 4 bytes, 2 left, 1 B/s, ETA 2 s, capped "
			   "at 65536 B/s, zstd: 1000 file bytes in 100\n");
	free(text);
	json_decref(status);
}

/* skyctl verify: progress, the last result, each difference with its
 * zones; hostile paths are tamed. */
static void test_verify_progress_and_differences_are_shown(void)
{
	json_t *status = sample_with(
		NULL, "actuators",
		"{'replicd':{'state':'primary','epoch':7,'age_ms':3,"
		"'data':'uptodate','sync':'insync','verify':{'running':true,"
		"'stage':'comparing','bytes_compared':1048576,"
		"'bytes_total':4194304,'differences_so_far':2,'last':{"
		"'result':'done','bytes_compared':99,'duration_ms':741,"
		"'differences':2,'changed_during_verify':1,"
		"'differences_listed':[{'directory':'/srv/d','path':'a/f',"
		"'what':'content,size','zones':[[3,1],[9,4]]},"
		"{'directory':'/srv/d','path':'x\\u001b[2Jy','what':'xattrs',"
		"'zones':[]}]}}}}");
	char *text = render(status);
	CHECK_STR_CONTAINS(text, "verify: running (comparing): 1048576 of "
				 "4194304 bytes compared, 2 difference(s) so "
				 "far\n");
	CHECK_STR_CONTAINS(text, "last verify: done, 99 bytes compared in 741 "
				 "ms: 2 difference(s), 1 path(s) changed "
				 "during verify\n");
	CHECK_STR_CONTAINS(text, "  differs: /srv/d/a/f: content,size (64 KiB "
				 "zone 3, zones 9-12)\n");
	CHECK_STR_CONTAINS(text, "  differs: /srv/d/x?[2Jy: xattrs\n");
	CHECK(strstr(text, "\x1b") == NULL);
	free(text);
	json_decref(status);
}

static void test_empty_status_shows_question_marks(void)
{
	json_t *status = load("{}");
	char *text = render(status);

	CHECK_STR_CONTAINS(text,
			   "module ? (?) in cluster ? \xe2\x80\x94 epoch ?, "
			   "quorum: ?\n"
			   "  NODE         ROLE    DATA      GEN  SEEN\n"
			   "* ?            ?       ?           ?  this node, "
			   "serving ?, ? for ?\n"
			   "  ?            ?       ?           ?  ?\n"
			   "networks:  ?\n"
			   "witness:   ?\n"
			   "last:      ?\n"
			   "dropped:   bad MAC ?, replay ?, malformed ?, "
			   "wrong cluster ?, unknown node ?\n");
	free(text);
	json_decref(status);
}

static void test_not_an_object_still_renders(void)
{
	const char *const odd[] = {"[]",   "'status'",
				   "42",   "null",
				   "true", "[{'node':{'name':'node1'}}]"};

	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		json_t *status = load(odd[i]);
		char *text = render(status);
		CHECK_STR_CONTAINS(text, "module ? (?) in cluster ?");
		CHECK_STR_CONTAINS(text, "dropped:   bad MAC ?");
		free(text);
		json_decref(status);
	}
	/* No object at all, as when a reply has no "status". */
	char *text = render(NULL);
	CHECK_STR_CONTAINS(text, "last:      ?\n");
	free(text);
}

static void test_fields_of_the_wrong_type_show_question_marks(void)
{
	json_t *status = load(
		"{'cluster':7,'module':['app'],'type':null,"
		" 'node':{'name':{'x':1},'role':4,'epoch':'7','generation':1.5,"
		"         'data':true,'serving':'yes','role_for_ms':-5,"
		"         'waiting_for':12},"
		" 'peer':{'name':'node2','visible':1,'role':'','generation':-3,"
		"         'last_seen_ms':'120','networks':[7,{'index':'0',"
		"         "
		"'local':null,'up':'yes'},{'up':false,'last_seen_ms':-1}]},"
		" 'quorum':{'have':'yes','via':5},"
		" 'witness':{'addresses':'198.18.0.10','lease':7,"
		"            'expires_in_ms':'840','holder':false},"
		" 'transition':{'from':1,'to':2,'ago_ms':1e3,'at':[],'reason':"
		"3,"
		"               'pending':4},"
		" 'actuators':['replicd'],"
		" 'counters':{'bad_mac':'0','replay':0.5,'malformed':null,"
		"             'wrong_cluster':-1,'unknown_node':{}}}");
	char *text = render(status);

	CHECK_STR_CONTAINS(text,
			   "module ? (?) in cluster ? \xe2\x80\x94 epoch ?, "
			   "quorum: ?\n");
	CHECK_STR_CONTAINS(text, "* ?            ?       ?           ?  this "
				 "node, serving ?, ? for ?\n");
	/* A negative generation is still a number: shown as sent. */
	CHECK_STR_CONTAINS(text, "  node2        ?       ?          -3  ?\n");
	CHECK_STR_CONTAINS(text, "networks:  #? ? -> ? ?   #? ? -> ? ?   "
				 "#? ? -> ? DOWN (last ? ago)\n");
	CHECK_STR_CONTAINS(text, "witness:   ? lease ?\n");
	CHECK_STR_CONTAINS(text, "last:      ? -> ? ? ago (?)\n");
	CHECK_STR_CONTAINS(text, "actuators: ?\n");
	CHECK_STR_CONTAINS(text, "dropped:   bad MAC ?, replay ?, malformed ?, "
				 "wrong cluster -1, unknown node ?\n");
	CHECK(!strstr(text, "waiting:"));
	CHECK(!strstr(text, "pending:"));
	free(text);
	json_decref(status);
}

/* Every line of text is at most max bytes. */
static bool lines_at_most(const char *text, size_t max)
{
	while (*text) {
		const char *end = strchr(text, '\n');
		size_t len = end ? (size_t)(end - text) : strlen(text);
		if (len > max)
			return false;
		text += len + (end ? 1 : 0);
	}
	return true;
}

static void test_hostile_strings_cannot_steer_the_terminal(void)
{
	json_t *status = load(sample_status);
	json_t *node = json_object_get(status, "node");
	json_t *transition = json_object_get(status, "transition");
	char *text;

	/* Clear screen, a C1 CSI, a right-to-left override, a NUL. */
	json_object_set_new(node, "name", json_string("\x1b[2Jevil"));
	json_object_set_new(node, "role",
			    json_string("PR\xc2\x9b"
					"1mIM"));
	json_object_set_new(transition, "reason",
			    json_string("ok \xe2\x80\xae"
					"desrever"));
	json_object_set_new(transition, "from", json_stringn("SEC\0OND", 7));
	text = render(status);
	CHECK(!strchr(text, '\x1b'));
	CHECK(!strstr(text, "\xc2\x9b"));
	CHECK(!strstr(text, "\xe2\x80\xae"));
	CHECK_STR_CONTAINS(text, "* ?[2Jevil");
	CHECK_STR_CONTAINS(text, "PR?1mIM");
	CHECK_STR_CONTAINS(text, "ok ?desrever");
	CHECK_STR_CONTAINS(text, "last:      SEC?OND -> ALONE");
	free(text);
	json_decref(status);
}

static void test_long_strings_and_lists_are_bounded(void)
{
	json_t *status = load(sample_status);
	json_t *peer = json_object_get(status, "peer");
	json_t *nets = json_array();
	json_t *acts = json_object();
	char *huge = malloc(100001);
	char *text;

	memset(huge, 'x', 100000);
	huge[100000] = '\0';
	json_object_set_new(json_object_get(status, "node"), "name",
			    json_string(huge));
	json_object_set_new(json_object_get(status, "transition"), "reason",
			    json_string(huge));
	json_object_set_new(status, "cluster", json_string(huge));
	for (int i = 0; i < 100; i++) {
		char key[16];
		json_array_append_new(nets,
				      json_pack("{s:i,s:s,s:s,s:b}", "index", i,
						"local", "198.18.0.1", "peer",
						huge, "up", 1));
		snprintf(key, sizeof(key), "act%d", i);
		json_object_set_new(acts, key,
				    json_pack("{s:s,s:i,s:i}", "state", "up",
					      "epoch", 7, "age_ms", 10));
	}
	json_object_set_new(peer, "networks", nets);
	json_object_set_new(status, "actuators", acts);
	text = render(status);
	CHECK_STR_CONTAINS(text, "in cluster xxxxxxxx");
	CHECK_STR_CONTAINS(text, "xxx... ");
	CHECK_STR_CONTAINS(text, "up   (92 more)\n");
	CHECK_STR_CONTAINS(text, "(epoch 7, 10 ms ago)   (92 more)\n");
	CHECK(lines_at_most(text, 1500));
	CHECK(strlen(text) < 4000);
	free(text);
	free(huge);
	json_decref(status);
}

static void test_numbers_at_the_limits(void)
{
	json_t *status = load(sample_status);
	json_t *node = json_object_get(status, "node");
	char *text;

	json_object_set_new(node, "generation", json_integer(INT64_MAX));
	json_object_set_new(node, "role_for_ms", json_integer(INT64_MAX));
	json_object_set_new(node, "epoch", json_integer(INT64_MIN));
	text = render(status);
	/* The GEN column widens for a long number and rows stay aligned. */
	CHECK_STR_CONTAINS(text, "DATA                      GEN  SEEN\n");
	CHECK_STR_CONTAINS(text, "uptodate  9223372036854775807  this node");
	CHECK_STR_CONTAINS(text, "uptodate                   12  120 ms ago");
	CHECK_STR_CONTAINS(text, "epoch -9223372036854775808,");
	CHECK_STR_CONTAINS(text, "PRIM for 106751991167 d 7 h\n");
	free(text);
	json_decref(status);
}

static void check_duration(int64_t ms, const char *want)
{
	char buf[32];

	skyctl_format_duration(ms, buf, sizeof(buf));
	if (strcmp(buf, want) != 0) {
		fprintf(stderr, "  %lld ms: got '%s', want '%s'\n",
			(long long)ms, buf, want);
		test_current_failed = 1;
	}
}

static void test_durations_read_like_a_human_would_say_them(void)
{
	check_duration(0, "0 ms");
	check_duration(120, "120 ms");
	check_duration(999, "999 ms");
	check_duration(1000, "1.0 s");
	check_duration(5230, "5.2 s");
	check_duration(59999, "59.9 s");
	check_duration(60000, "1 min");
	check_duration(184000, "3 min 4 s");
	check_duration(3600000, "1 h");
	check_duration(7500000, "2 h 5 min");
	check_duration(86400000, "1 d");
	check_duration(3 * 86400000LL + 4 * 3600000LL, "3 d 4 h");
	check_duration(-1, "?");
	check_duration(INT64_MIN, "?");
}

static void test_safe_text_cuts_whole_characters(void)
{
	json_t *accents =
		json_string("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
	json_t *number = json_integer(3);
	char buf[8], tiny[2];

	/* Five 2-byte characters do not fit in 7 bytes: 2 kept, then "...". */
	CHECK(strcmp(skyctl_safe_text(accents, buf, sizeof(buf)),
		     "\xc3\xa9\xc3\xa9...") == 0);
	CHECK(strcmp(skyctl_safe_text(accents, tiny, sizeof(tiny)), "") == 0);
	CHECK(strcmp(skyctl_safe_text(number, buf, sizeof(buf)), "?") == 0);
	CHECK(strcmp(skyctl_safe_text(NULL, buf, sizeof(buf)), "?") == 0);
	CHECK(strcmp(skyctl_safe_text(NULL, buf, 0), "") == 0);
	json_decref(accents);
	json_decref(number);
}

static void test_a_failed_write_is_reported(void)
{
	FILE *full = fopen("/dev/full", "w");
	json_t *status = load(sample_status);

	if (full) {
		setvbuf(full, NULL, _IONBF, 0);
		CHECK_EQ_INT(skyctl_render_status(full, status), -EIO);
		fclose(full);
	}
	json_decref(status);
}

static void test_checkers_from_checkd_detail(void)
{
	json_t *status = sample_with(
		NULL, "actuators",
		"{'checkd':{'state':'up','epoch':7,'age_ms':200,"
		"  'detail':{'app':'running','app_pid':4242,"
		"            'restarts_in_window':1,'restart_max':3,"
		"            'restart_window_ms':60000,'checkers':["
		"    {'name':'app-process','state':'ok','action':'restart',"
		"     'consecutive':4,'last_error':''},"
		"    {'name':'app-http','state':'failed','action':'restart',"
		"     'consecutive':2,'last_error':'connection refused'}]}}}");
	char *text = render(status);

	CHECK_STR_CONTAINS(text, "app:       running, restarts 1/3 in 1 min, "
				 "pid 4242\n");
	CHECK_STR_CONTAINS(text,
			   "checkers:  app-process ok (restart)   app-http "
			   "FAILING x2 (restart): connection refused\n");
	free(text);
	json_decref(status);

	/* Hostile or broken details: bounded, escaped, question marks. */
	json_t *many = json_array();
	for (int i = 0; i < 50; i++)
		json_array_append_new(
			many, json_pack("{s:s,s:s,s:i}", "name", "\x1b[2Jx",
					"state", "failed", "consecutive", i));
	json_t *detail = json_pack("{s:o,s:s,s:s}", "checkers", many, "app",
				   "\x1b]0;title\x07", "restart_max", "three");
	status = load(sample_status);
	json_object_set_new(
		json_object_get(status, "actuators"), "checkd",
		json_pack("{s:s,s:o}", "state", "up", "detail", detail));
	text = render(status);
	CHECK(!strchr(text, '\x1b'));
	CHECK(!strchr(text, '\x07'));
	CHECK_STR_CONTAINS(text, "(42 more)");
	CHECK_STR_CONTAINS(text, "restarts ?/?");
	free(text);
	json_decref(status);
}

static void test_a_farm_shows_every_node_its_state_and_share(void)
{
	json_t *st = load(
		"{'cluster':'demo','module':'web','type':'farm',"
		" 'node':{'name':'node2','role':'UP','epoch':3,'serving':true,"
		"         'role_for_ms':5000,'waiting_for':''},"
		" 'nodes':[{'name':'node1','self':false,'member':true,'role':'"
		"UP',"
		"           'ready':true,'visible':true,'last_seen_ms':80,"
		"           'weight':2},"
		"          "
		"{'name':'node2','self':true,'member':true,'role':'UP',"
		"           'ready':true,'visible':true,'last_seen_ms':null,"
		"           'weight':1},"
		"          {'name':'node3','self':false,'member':false,"
		"           'role':'UP','ready':false,'visible':false,"
		"           'last_seen_ms':4200,'weight':1},"
		"          "
		"{'name':'node4\\u001b[2J','self':false,'member':false,"
		"           'role':'WAIT','ready':false,'visible':true,"
		"           'last_seen_ms':90,'weight':99999}],"
		" 'membership':{'members':['node1','node2'],'changes':4,'nodes'"
		":4},"
		" 'quorum':{'mode':'none','have':true,'via':'farm'}}");
	char *text = render(st);
	CHECK_STR_CONTAINS(text, "module web (farm) in cluster demo");
	CHECK_STR_CONTAINS(text, "epoch 3, 2 of 4 nodes serve\n");
	CHECK_STR_CONTAINS(text,
			   "  node1        UP    yes    67%     80 ms ago\n");
	CHECK_STR_CONTAINS(text,
			   "* node2        UP    yes    33%     this node\n");
	CHECK_STR_CONTAINS(text, "LOST, last seen 4.2 s ago");
	CHECK(!strchr(text, '\x1b')); /* a hostile name cannot steer */
	CHECK(!strstr(text, "quorum"));
	CHECK(!strstr(text, "load:")); /* no bucket mode: no load line */
	free(text);
	json_decref(st);
}

/* A farm with quorum: etcd says so, and loudly once the lease is gone. */
static void test_a_farm_with_etcd_quorum_says_when_it_may_not_serve(void)
{
	json_t *st = load(
		"{'cluster':'demo','module':'web','type':'farm',"
		" 'node':{'name':'node2','role':'WAIT','epoch':3,"
		"         'serving':false},"
		" 'nodes':[],"
		" 'membership':{'members':['node1'],'changes':4,'nodes':2},"
		" 'quorum':{'mode':'etcd','have':false,'via':'etcd'}}");
	char *text = render(st);
	CHECK_STR_CONTAINS(text, "1 of 2 nodes serve; quorum etcd: NONE, "
				 "this node may not serve\n");
	free(text);
	json_object_set_new(json_object_get(st, "quorum"), "have", json_true());
	text = render(st);
	CHECK_STR_CONTAINS(text, "1 of 2 nodes serve; quorum etcd\n");
	free(text);
	json_decref(st);
}

static void test_a_farm_in_bucket_mode_shows_every_members_load(void)
{
	json_t *st = load(
		"{'cluster':'demo','module':'web','type':'farm',"
		" 'node':{'name':'node1','role':'UP','epoch':3,'serving':true},"
		" 'nodes':[{'name':'node1','self':true,'member':true,'role':'"
		"UP',"
		"           'ready':true,'visible':true,'last_seen_ms':null,"
		"           'weight':1},"
		"          "
		"{'name':'node2','self':false,'member':true,'role':'UP',"
		"           'ready':true,'visible':true,'last_seen_ms':80,"
		"           'weight':1},"
		"          "
		"{'name':'node3','self':false,'member':true,'role':'UP',"
		"           'ready':true,'visible':true,'last_seen_ms':90,"
		"           'weight':1},"
		"          {'name':'node4','self':false,'member':false,"
		"           'role':'WAIT','ready':false,'visible':true,"
		"           'last_seen_ms':90,'weight':1}],"
		" 'actuators':{'vipd':{'detail':{'buckets':{'owned':87,"
		"   'total':256,'members':3,'hash':'address'}}}}}");
	char *text = render(st);
	/* the lab's figures (tests/cluster/test_farm_buckets.py) */
	CHECK_STR_CONTAINS(text,
			   "* node1        UP    yes    33%    87/256   ");
	CHECK_STR_CONTAINS(text,
			   "  node2        UP    yes    33%    92/256   ");
	CHECK_STR_CONTAINS(text,
			   "  node3        UP    yes    33%    77/256   ");
	CHECK_STR_CONTAINS(text,
			   "  node4        WAIT  no     -      -        ");
	free(text);
	json_decref(st);
}

static void test_a_farm_in_bucket_mode_shows_this_nodes_load(void)
{
	json_t *st = load(
		"{'cluster':'demo','module':'web','type':'farm',"
		" 'node':{'name':'node2','role':'UP','epoch':3,'serving':true,"
		"         'role_for_ms':5000,'waiting_for':''},"
		" 'nodes':[{'name':'node2','self':true,'member':true,'role':'"
		"UP',"
		"           'ready':true,'visible':true,'last_seen_ms':null,"
		"           'weight':1}],"
		" 'actuators':{'vipd':{'detail':{'buckets':{'owned':85,"
		"   'total':256,'members':3,'taken_over':43,"
		"   'hash':'address\\u001b[2J'}}}},"
		" 'membership':{'members':['node2'],'changes':4,'nodes':1}}");
	char *text = render(st);
	CHECK_STR_CONTAINS(text, "load:      85/256 buckets on this node (3 "
				 "members, hash address");
	/* every member's load, as vipd computes it (node2 alone: all) */
	CHECK_STR_CONTAINS(text, "  NODE         STATE SERVES SHARE  LOAD      "
				 "SEEN\n");
	CHECK_STR_CONTAINS(text, "* node2        UP    yes    100%   256/256   "
				 "this node\n");
	CHECK_STR_CONTAINS(text, "; 43 taken over from a node that left)\n");
	CHECK(!strchr(text, '\x1b'));
	free(text);
	json_decref(st);
	/* Nonsense is not shown. */
	st = load("{'cluster':'demo','module':'web','type':'farm',"
		  " 'node':{'name':'node2','role':'UP','epoch':3},"
		  " 'nodes':[],"
		  " 'actuators':{'vipd':{'detail':{'buckets':{'owned':300,"
		  "   'total':256,'members':3}}}}}");
	text = render(st);
	CHECK(!strstr(text, "load:"));
	free(text);
	json_decref(st);
}

TEST_MAIN(TEST(test_verify_progress_and_differences_are_shown),
	  TEST(test_replication_progress_is_shown_and_hostile_text_tamed),
	  TEST(test_a_farm_shows_every_node_its_state_and_share),
	  TEST(test_a_farm_in_bucket_mode_shows_this_nodes_load),
	  TEST(test_a_farm_with_etcd_quorum_says_when_it_may_not_serve),
	  TEST(test_a_farm_in_bucket_mode_shows_every_members_load),
	  TEST(test_both_nodes_up_shows_the_whole_picture),
	  TEST(test_checkers_from_checkd_detail),
	  TEST(test_peer_lost_shows_lost_and_when_last_seen),
	  TEST(test_etcd_quorum_shows_the_leader_key_and_last_error),
	  TEST(test_peer_never_seen_says_so),
	  TEST(test_witness_refused_shows_refusal_and_lost_quorum),
	  TEST(test_several_witnesses_show_the_majority_and_each_one),
	  TEST(test_backups_show_the_last_success_and_what_is_wrong),
	  TEST(test_a_backup_requested_now_is_shown_and_names_the_unit),
	  TEST(test_witness_without_lease_gives_last_answer),
	  TEST(test_secondary_not_asking_for_the_lease_is_normal),
	  TEST(test_no_witness_configured),
	  TEST(test_pending_step_and_actuators_not_there_yet),
	  TEST(test_empty_status_shows_question_marks),
	  TEST(test_not_an_object_still_renders),
	  TEST(test_fields_of_the_wrong_type_show_question_marks),
	  TEST(test_hostile_strings_cannot_steer_the_terminal),
	  TEST(test_long_strings_and_lists_are_bounded),
	  TEST(test_numbers_at_the_limits),
	  TEST(test_durations_read_like_a_human_would_say_them),
	  TEST(test_safe_text_cuts_whole_characters),
	  TEST(test_a_failed_write_is_reported))
